using System.CommandLine;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Cli.Commands;

/// <summary>reason verify GOLD PRED — exit 0 when equivalent, 1 when not (as cmp does).</summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var gold = new Argument<string>("gold") { Description = "The reference answer or solution text" };
        var prediction = new Argument<string>("prediction") { Description = "The answer or completion to check" };
        var precision = new Option<int>("--precision") { Description = "Decimals kept when a float is compared", DefaultValueFactory = _ => 6 };
        var timeout = new Option<double>("--timeout") { Description = "Time limit in seconds", DefaultValueFactory = _ => 3 };
        var nonStrict = new Option<bool>("--non-strict") { Description = "Ignore variable names (x+1 matches y+1)" };
        var allowSetRelation = new Option<bool>("--allow-set-relation") { Description = "Let a gold set match a predicted relation" };
        var command = new Command("verify", "Check whether PRED is mathematically equivalent to GOLD and explain how the verdict was reached.");
        command.Arguments.Add(gold);
        command.Arguments.Add(prediction);
        command.Options.Add(precision);
        command.Options.Add(timeout);
        command.Options.Add(nonStrict);
        command.Options.Add(allowSetRelation);
        command.SetAction(parseResult =>
        {
            var seconds = parseResult.GetValue(timeout);
            if (!(seconds > 0)) throw new ReasonSharpException($"--timeout must be positive, got {seconds}");
            var options = new MathVerifyOptions
            {
                FloatRounding = parseResult.GetValue(precision),
                Timeout = TimeSpan.FromSeconds(seconds),
                Strict = !parseResult.GetValue(nonStrict),
                AllowSetRelationComparison = parseResult.GetValue(allowSetRelation),
            };
            var result = MathVerifier.Verify(parseResult.GetValue(gold)!, parseResult.GetValue(prediction)!, options);
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(result.Equivalent ? "equivalent" : "not equivalent");
            output.WriteLine(result.Explanation);
            return result.Equivalent ? 0 : 1;
        });
        return command;
    }
}
