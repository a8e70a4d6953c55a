using System.Text.Json.Nodes;

namespace ReasonSharp.Data;

/// <summary>
/// GSM8K-style word problems from templates (2 to 4 steps) with random names, items and numbers. The teacher
/// writes one line per step, "Bought: 3*5=15 apples.", ending in the number asked for. Verified by "accuracy" on the
/// `answer` column. Level 1 uses 2-step templates with small numbers; higher levels add steps and scale the numbers.
/// </summary>
public sealed class WordProblemTask : ISyntheticTask
{
    public string Name => "word";
    public string RewardName => "accuracy";
    public int MaxDifficulty => 5;

    public SyntheticProblem Generate(Random random, int difficulty)
    {
        var (candidates, scale) = Level(difficulty);
        var template = candidates[random.Next(candidates.Count)];
        var context = new WordContext(random, scale);
        var question = template.Build(context);
        var answer = context.LastResult.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new SyntheticProblem(
            Name, difficulty,
            Key: $"word:{template.Id}:{string.Join(",", context.Drawn)}",
            Prompt: question,
            Trace: new ReasoningTrace(string.Join("\n", context.Lines), answer),
            Columns: new Dictionary<string, JsonNode> { ["answer"] = answer });
    }

    static (List<WordTemplate> Templates, int Scale) Level(int difficulty)
    {
        SyntheticTasks.CheckDifficulty(new WordProblemTask(), difficulty);
        var (minSteps, maxSteps, scale) = difficulty switch
        {
            1 => (2, 2, 1),
            2 => (2, 3, 1),
            3 => (3, 3, 2),
            4 => (3, 4, 3),
            _ => (4, 4, 5),
        };
        return (WordTemplates.All.Where(t => t.Steps >= minSteps && t.Steps <= maxSteps).ToList(), scale);
    }

    /// <summary>
    /// Keys are the template and its drawn numbers: the sum over the level's templates of the product of their draws'
    /// range sizes, measured by building each template (templates draw a fixed sequence of numbers).
    /// </summary>
    public long? MaxDistinctProblems(int difficulty)
    {
        var (templates, scale) = Level(difficulty);
        double total = 0;
        foreach (var template in templates)
        {
            double most = 0;
            for (int seed = 0; seed < 8; seed++)
            {
                var ranges = new RangeRecorder(seed);
                template.Build(new WordContext(ranges, scale));
                most = Math.Max(most, ranges.Combinations);
            }
            total += most;
        }
        return SyntheticTasks.Saturating(total);
    }

    /// <summary>A Random that multiplies up the sizes of the ranges numbers are drawn from.</summary>
    sealed class RangeRecorder(int seed) : Random(seed)
    {
        public double Combinations { get; private set; } = 1;

        public override long NextInt64(long minValue, long maxValue)
        {
            Combinations *= maxValue - minValue;
            return base.NextInt64(minValue, maxValue);
        }
    }
}

/// <summary>Draws the numbers of one word problem (remembered for its key) and writes the teacher's step
/// lines.</summary>
public sealed class WordContext(Random random, int scale)
{
    static readonly string[] Names =
        ["Mia", "Leo", "Ava", "Sam", "Noah", "Emma", "Liam", "Zoe", "Omar", "Lena", "Ravi", "Yuki", "Ana", "Ben", "Kai",
        "Nora"];

    readonly List<string> lines = [];
    readonly List<long> drawn = [];

    public IReadOnlyList<string> Lines => lines;
    public IReadOnlyList<long> Drawn => drawn;
    public long LastResult { get; private set; }

    /// <summary>A number from lo to hi × scale.</summary>
    public long Draw(long lo, long hi) => Fixed(lo, Math.Max(lo, hi * scale));

    /// <summary>A number from lo to hi, not scaled with difficulty.</summary>
    public long Fixed(long lo, long hi)
    {
        var value = random.NextInt64(lo, hi + 1);
        drawn.Add(value);
        return value;
    }

    public string Name() => Names[random.Next(Names.Length)];
    public T Pick<T>(IReadOnlyList<T> options) => options[random.Next(options.Count)];

    /// <summary>Works one step and writes "Label: a op b=r unit."</summary>
    public long Step(string label, long a, char op, long b, string unit)
    {
        var result = Expr.Apply(a, op, b)
            ?? throw new InvalidOperationException($"template step {a}{op}{b} is not exact");
        if (result < 0) throw new InvalidOperationException($"template step {a}{op}{b} is negative");
        lines.Add($"{label}: {a}{op}{b}={result}{(unit.Length > 0 ? " " + unit : "")}.");
        return LastResult = result;
    }

    /// <summary>The smallest multiple of 10 above <paramref name="amount"/>, plus 0–20 more.</summary>
    public long PaidFor(long amount) => (amount / 10 + 1 + Fixed(0, 2)) * 10;
}

/// <summary>One word-problem template: its id (part of the problem key), its step count, and the builder.</summary>
public sealed record WordTemplate(string Id, int Steps, Func<WordContext, string> Build);

public static class WordTemplates
{
    static readonly string[] Items = ["apples", "marbles", "stickers", "cards", "shells", "stamps", "pencils", "beads"];
    static readonly string[] Goods = ["pen", "book", "toy car", "mug", "notebook", "ball"];
    static readonly string[] Times = ["", "", "twice", "three times", "four times"];

    public static IReadOnlyList<WordTemplate> All { get; } =
    [
        new("packs", 2, c =>
        {
            var (name, item) = (c.Name(), c.Pick(Items));
            long have = c.Draw(2, 40), packs = c.Fixed(2, 9), each = c.Draw(2, 12);
            var bought = c.Step("Bought", packs, '*', each, item);
            c.Step("Now", have, '+', bought, item);
            return $"{name} has {have} {item}. {name} buys {packs} packs with {each} {item} in each. How many " +
                $"{item} does {name} have now?";
        }),
        new("giveaway", 2, c =>
        {
            var (name, item) = (c.Name(), c.Pick(Items));
            long friends = c.Fixed(2, 6), each = c.Draw(2, 9), spare = c.Draw(1, 40);
            var have = friends * each + spare;
            var given = c.Step("Given", friends, '*', each, item);
            c.Step("Left", have, '-', given, item);
            return $"{name} has {have} {item} and gives {each} to each of {friends} friends. How many {item} does " +
                $"{name} have left?";
        }),
        new("change", 2, c =>
        {
            var (name, good) = (c.Name(), c.Pick(Goods));
            long price = c.Draw(2, 20), count = c.Fixed(2, 9);
            var paid = c.PaidFor(price * count);
            var cost = c.Step("Cost", count, '*', price, "dollars");
            c.Step("Change", paid, '-', cost, "dollars");
            return $"A {good} costs {price} dollars. {name} buys {count} of them and pays with {paid} dollars. How " +
                $"many dollars of change does {name} get?";
        }),
        new("savings", 2, c =>
        {
            var name = c.Name();
            long weekly = c.Draw(2, 20), weeks = c.Fixed(2, 12), have = c.Draw(2, 60);
            var price = have + weekly * weeks;
            var needed = c.Step("Still needed", price, '-', have, "dollars");
            c.Step("Weeks", needed, '/', weekly, "weeks");
            return $"{name} wants a bike that costs {price} dollars. {name} has {have} dollars and saves {weekly} " +
                $"dollars each week. How many weeks until {name} can buy the bike?";
        }),
        new("reading", 3, c =>
        {
            var name = c.Name();
            long monday = c.Draw(5, 20), times = c.Fixed(2, 4), wednesday = c.Draw(5, 20);
            var tuesday = c.Step("Tuesday", monday, '*', times, "pages");
            var two = c.Step("Monday and Tuesday", monday, '+', tuesday, "pages");
            c.Step("Total", two, '+', wednesday, "pages");
            return $"{name} reads {monday} pages on Monday, {Times[times]} as many on Tuesday, and {wednesday} " +
                $"pages on Wednesday. How many pages does {name} read in all?";
        }),
        new("bakery", 3, c =>
        {
            var name = c.Name();
            long trays = c.Fixed(2, 6), perTray = c.Draw(4, 12), boxes = c.Fixed(2, 6);
            var perBox = c.Fixed(1, (trays * perTray - 1) / boxes);
            var sold = trays * perTray - boxes * perBox;
            var baked = c.Step("Baked", trays, '*', perTray, "cookies");
            var left = c.Step("Left", baked, '-', sold, "cookies");
            c.Step("Per box", left, '/', boxes, "cookies");
            return $"{name} bakes {trays} trays of {perTray} cookies, sells {sold} cookies, and packs the rest " +
                $"equally into {boxes} boxes. How many cookies go in each box?";
        }),
        new("trip", 3, c =>
        {
            long speed1 = c.Draw(20, 60), hours1 = c.Fixed(2, 5), speed2 = c.Draw(20, 60), hours2 = c.Fixed(2, 5);
            var first = c.Step("First part", speed1, '*', hours1, "km");
            var second = c.Step("Second part", speed2, '*', hours2, "km");
            c.Step("Total", first, '+', second, "km");
            return $"A car drives at {speed1} km per hour for {hours1} hours, then at {speed2} km per hour for " +
                $"{hours2} hours. How many km does it drive in total?";
        }),
        new("farm", 3, c =>
        {
            long cows = c.Draw(2, 15), hens = c.Draw(2, 20);
            var cowLegs = c.Step("Cow legs", cows, '*', 4, "");
            var henLegs = c.Step("Hen legs", hens, '*', 2, "");
            c.Step("Total", cowLegs, '+', henLegs, "legs");
            return $"A farm has {cows} cows and {hens} hens. How many legs do the animals have in total?";
        }),
        new("wages", 4, c =>
        {
            var name = c.Name();
            long wage = c.Draw(5, 20), hours = c.Fixed(2, 8), days = c.Fixed(2, 6), bonus = c.Draw(5, 50);
            var spent = c.Fixed(1, wage * hours * days + bonus - 1);
            var perDay = c.Step("Per day", wage, '*', hours, "dollars");
            var earned = c.Step("Earned", perDay, '*', days, "dollars");
            var total = c.Step("With bonus", earned, '+', bonus, "dollars");
            c.Step("Left", total, '-', spent, "dollars");
            return $"{name} earns {wage} dollars an hour and works {hours} hours a day for {days} days. {name} " +
                $"also gets a bonus of {bonus} dollars, then spends {spent} dollars. How many dollars does {name} " +
                $"have left?";
        }),
        new("shopping", 4, c =>
        {
            var name = c.Name();
            long notebooks = c.Fixed(2, 6), notebookPrice = c.Draw(2, 10), pens = c.Fixed(2, 6),
                penPrice = c.Draw(1, 5);
            var paid = c.PaidFor(notebooks * notebookPrice + pens * penPrice);
            var notebookCost = c.Step("Notebooks", notebooks, '*', notebookPrice, "dollars");
            var penCost = c.Step("Pens", pens, '*', penPrice, "dollars");
            var cost = c.Step("Cost", notebookCost, '+', penCost, "dollars");
            c.Step("Change", paid, '-', cost, "dollars");
            return $"{name} buys {notebooks} notebooks at {notebookPrice} dollars each and {pens} pens at " +
                $"{penPrice} dollars each, and pays with {paid} dollars. How many dollars of change does {name} get?";
        }),
        new("teams", 4, c =>
        {
            long classes = c.Fixed(2, 6), size = c.Draw(10, 30), joined = c.Draw(1, 10), teamSize = c.Fixed(2, 6);
            var teams = c.Fixed(1, (classes * size + joined - 1) / teamSize);
            var absent = classes * size + joined - teams * teamSize;
            var students = c.Step("Students", classes, '*', size, "");
            var all = c.Step("With new ones", students, '+', joined, "");
            var present = c.Step("Present", all, '-', absent, "");
            c.Step("Teams", present, '/', teamSize, "teams");
            return $"A school has {classes} classes of {size} students, and {joined} new students join. {absent} " +
                $"students are absent, and the rest form teams of {teamSize}. How many teams are there?";
        }),
    ];
}
