using ReasonSharp.Bench;

return BenchRunner.Run(args);
