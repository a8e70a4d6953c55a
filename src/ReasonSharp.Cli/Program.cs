using ReasonSharp.Cli;

return await CliRunner.InvokeAsync(CliRunner.CreateRoot(), args);
