using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using ReasonSharp.Rewards.Verification;

namespace ReasonSharp.Cli.Commands;

/// <summary>
/// reason verify GOLD PRED — exit 0 when equivalent, 1 when not (as cmp does), 2 on a usage error (missing argument,
/// bad option value), 3 when there is no verdict (the time limit passed, an input is over a size cap, or the gold
/// answer did not parse).
/// </summary>
public static class VerifyCommand
{
    public const int ExitEquivalent = 0;
    public const int ExitNotEquivalent = 1;
    public const int ExitNoVerdict = 3;

    public static Command Create()
    {
        // Optional to System.CommandLine, so a missing one is our error (exit 2), not a parse error (exit 1).
        var gold = new Argument<string?>("gold")
        {
            Description = "The reference answer or solution text",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var prediction = new Argument<string?>("prediction")
        {
            Description = "The answer or completion to check",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var precision = new Option<int>("--precision")
        {
            Description = $"Decimals kept when a float is compared (0..{MathVerifyOptions.MaxFloatRounding})",
            DefaultValueFactory = _ => MathVerifyOptions.Default.FloatRounding,
            Arity = ArgumentArity.ZeroOrOne, // a missing value is our error (exit 2), not a parse error (exit 1)
            CustomParser = r => ParseNumber(r, "--precision", int.Parse),
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Time limit in seconds for the whole check",
            DefaultValueFactory = _ => MathVerifyOptions.Default.Timeout.TotalSeconds,
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => ParseNumber(r, "--timeout", double.Parse),
        };
        var maxInput = new Option<int>("--max-input-length")
        {
            Description = "Longest GOLD or PRED read, in characters; longer ones are refused",
            DefaultValueFactory = _ => MathVerifyOptions.Default.MaxInputLength,
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => ParseNumber(r, "--max-input-length", int.Parse),
        };
        var maxDigits = new Option<int>("--max-number-digits")
        {
            Description = "Most digits in one number literal; larger numbers are refused",
            DefaultValueFactory = _ => MathVerifyOptions.Default.MaxNumberDigits,
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => ParseNumber(r, "--max-number-digits", int.Parse),
        };
        var nonStrict = new Option<bool>("--non-strict") { Description = "Ignore variable names (x+1 matches y+1)" };
        var allowSetRelation = new Option<bool>("--allow-set-relation") { Description = "Let a gold set match a predicted relation" };
        var command = new Command("verify",
            "Check whether PRED is mathematically equivalent to GOLD and explain how the verdict was reached. "
            + "Exit 0: equivalent, 1: not equivalent, 2: usage error, "
            + "3: no verdict (time limit, size cap, or the gold did not parse).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Arguments.Add(gold);
        command.Arguments.Add(prediction);
        foreach (var option in new Option[] { precision, timeout, maxInput, maxDigits, nonStrict, allowSetRelation })
            command.Options.Add(option);
        command.SetAction(parseResult =>
        {
            foreach (var option in new Option[] { precision, timeout, maxInput, maxDigits })
                if (parseResult.GetResult(option) is { Implicit: false, Tokens.Count: 0 })
                    throw new ReasonSharpException($"{option.Name}: missing its value; expected a number");
            if (parseResult.UnmatchedTokens.Count > 0)
                throw new ReasonSharpException(
                    $"verify: unexpected '{string.Join(" ", parseResult.UnmatchedTokens)}'; expected GOLD PRED [options]");
            var goldText = parseResult.GetValue(gold);
            var predictionText = parseResult.GetValue(prediction);
            if (goldText == null || predictionText == null)
                throw new ReasonSharpException(
                    $"verify: missing {(goldText == null ? "GOLD and PRED" : "PRED")}; expected GOLD PRED [options]");
            var seconds = parseResult.GetValue(timeout);
            if (!(seconds > 0) || !double.IsFinite(seconds))
                throw new ReasonSharpException($"--timeout must be a positive number of seconds, got {seconds}");
            var options = new MathVerifyOptions
            {
                FloatRounding = parseResult.GetValue(precision),
                Timeout = TimeSpan.FromSeconds(Math.Min(seconds, 86_400)),
                MaxInputLength = parseResult.GetValue(maxInput),
                MaxNumberDigits = parseResult.GetValue(maxDigits),
                Strict = !parseResult.GetValue(nonStrict),
                AllowSetRelationComparison = parseResult.GetValue(allowSetRelation),
            };
            if (options.FloatRounding is < 0 or > MathVerifyOptions.MaxFloatRounding)
                throw new ReasonSharpException(
                    $"--precision must be 0..{MathVerifyOptions.MaxFloatRounding}, got {options.FloatRounding}");
            if (options.MaxInputLength < 1)
                throw new ReasonSharpException($"--max-input-length must be at least 1, got {options.MaxInputLength}");
            if (options.MaxNumberDigits < 1)
                throw new ReasonSharpException($"--max-number-digits must be at least 1, got {options.MaxNumberDigits}");
            var result = MathVerifier.Verify(goldText, predictionText, options);
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(result.Verdict);
            output.WriteLine(result.Explanation);
            return result.Outcome switch
            {
                VerifyOutcome.Equivalent => ExitEquivalent,
                VerifyOutcome.NotEquivalent => ExitNotEquivalent,
                _ => ExitNoVerdict,
            };
        });
        return command;
    }

    /// <summary>Reads an option's value, failing with a ReasonSharpException (exit 2), not a parse error (exit 1).</summary>
    static T ParseNumber<T>(ArgumentResult result, string name, Func<string, NumberStyles, IFormatProvider, T> parse)
    {
        var token = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
        try
        {
            return parse(token ?? throw new FormatException(), NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ReasonSharpException($"{name}: expected a number, got '{token}'");
        }
    }
}
