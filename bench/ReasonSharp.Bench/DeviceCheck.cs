using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReasonSharp.Data;
using ReasonSharp.Modeling;
using ReasonSharp.Templates;
using ReasonSharp.Tokenization;
using static TorchSharp.torch;

namespace ReasonSharp.Bench;

/// <summary>
/// The CPU side of the prepared GPU check (bench/device/README.md): <see cref="Prepare"/> writes random tiny models of
/// every architecture in Hugging Face layout, their input ids and our logits, the chat-template fixtures and our
/// renders of them; bench/device/check.py runs the same through transformers on the device machine;
/// <see cref="Compare"/> reads both back. Linked into the test project, so it depends on the library only.
/// </summary>
public static class DeviceCheck
{
    public const string ManifestFile = "manifest.json";
    public const string ResultsFile = "results.json";
    public const double LogitTolerance = 1e-4;
    /// <summary>Positions per input: more than Gemma 3's sliding window, so that the window shows.</summary>
    public const int Positions = 40;
    const int VocabSize = 384;
    /// <summary>The clock of strftime_now, as the jinja2 fixtures fix it.</summary>
    public static readonly DateTime FixedNow = new(2025, 3, 7, 14, 5, 9);

    /// <summary>Texts both tokenizers encode (plain, digits, unicode, specials, think tags).</summary>
    public static readonly string[] Texts =
    [
        "What is 12 + 30? Answer: 42.", "  leading spaces and\ttabs\nnew lines\n\n",
        "Ünïcødé: café, 東京, 🙂 ok",
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nplan</think>\n<answer>7</answer><|im_end|>",
        "x=3*(4-1)/2; y = x**2 -> 20.25", "",
    ];

    /// <summary>One model of the check: an architecture with the features that set it apart switched on.</summary>
    public sealed record ModelCase(string Name, ModelConfig Config, ulong Seed, string Features);

    /// <summary>The models: every family of <see cref="ModelArchitecture.All"/>, with biases, qk-norm, head_dim ≠
    /// hidden/heads, llama3 rope scaling, NoPE layers, sliding windows with a local theta.</summary>
    public static IReadOnlyList<ModelCase> Cases(int vocab, int? bos, int eos, int? pad)
    {
        ModelConfig Config(string arch, bool tied, int layers = 2, int? headDim = null, double theta = 10000) =>
            ModelConfig.Create(arch, vocab, hiddenSize: 64, intermediateSize: 128, layers: layers, heads: 4,
                kvHeads: 2, headDim: headDim, tieWordEmbeddings: tied, ropeTheta: theta, maxPositions: 256,
                rmsNormEps: 1e-6, bosTokenId: bos, eosTokenIds: [eos], padTokenId: pad);
        var gemma = Config("gemma3_text", tied: true, layers: 4, theta: 1_000_000);
        var cases = new List<ModelCase>
        {
            new("qwen2", Config("qwen2", tied: true), 101, "tied, q/k/v bias"),
            new("qwen3", Config("qwen3", tied: false, headDim: 32), 102, "untied, q/k norm, head_dim 32 ≠ 64/4"),
            new("llama", Config("llama", tied: false, theta: 500_000) with
            {
                QkvBias = true, OutputBias = true, MlpBias = true,
                RopeScaling = new RopeScaling("llama3", 8, 1, 4, 64),
            }, 103, "attention and MLP bias, llama3 rope scaling"),
            new("smollm3", Config("smollm3", tied: true, layers: 4) with
            {
                Settings = new SmolLM3Settings([1, 1, 1, 0]),
            }, 104, "NoPE in layer 4"),
            new("gemma3", gemma with
            {
                Settings = new Gemma3Settings(8, Gemma3Settings.Pattern(2, 4), RopeLocalBaseFreq: 10000,
                    QueryPreAttnScalar: 16, SlidingWindowPattern: 2),
            }, 105, "sliding window 8 of 40, local theta, query_pre_attn_scalar, (1+w) norms, GELU"),
        };
        var missing = ModelArchitecture.All.Select(a => a.ModelType).Except(cases.Select(c => c.Config.ModelType));
        if (missing.Any())
            throw new InvalidOperationException($"no device-check model for {string.Join(", ", missing)}; add one");
        return cases;
    }

    /// <summary>A random model whose every weight, bias and norm is drawn from the case's seed with a fixed
    /// generator (not libtorch's), so that the same case gives the same weights on any machine.</summary>
    public static CausalLM CreateModel(ModelCase c)
    {
        var model = new CausalLM(c.Config, initialize: false);
        model.eval();
        var random = new SplitMix(c.Seed);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            var values = new float[p.numel()];
            bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            double mean = norm && !c.Config.Arch.NormUnitOffset ? 1 : 0, std = norm ? 0.2 : 0.3;
            for (int i = 0; i < values.Length; i++) values[i] = (float)(mean + std * random.NextGaussian());
            using var source = tensor(values).reshape(p.shape);
            p.copy_(source);
        }
        return model;
    }

    /// <summary>SHA-256 over every parameter's name and float32 bytes, in state-dict order.</summary>
    public static string WeightsDigest(CausalLM model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, p) in model.state_dict())
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            var values = p.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            var bytes = new byte[values.Length * sizeof(float)];
            for (int i = 0; i < values.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Input ids the tokenizer defines, from the case's seed.</summary>
    public static long[] InputIds(ModelCase c, int tokenizerVocab)
    {
        var random = new SplitMix(c.Seed + 1);
        return Enumerable.Range(0, Positions).Select(_ => (long)random.NextInt(tokenizerVocab)).ToArray();
    }

    /// <summary>Our logits [positions × vocab] for one row of ids (a full forward, no cache).</summary>
    public static float[] Logits(CausalLM model, long[] ids)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = model.Forward(tensor(ids, [1, ids.Length], device: model.Device));
        return logits.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    /// <summary>Writes the prepared folder: models/NAME (config.json, model.safetensors, tokenizer), chat/ (the
    /// fixture conversations and file templates), ours/ (logits, renders, token ids) and manifest.json.</summary>
    /// <param name="fixtures">tests/ReasonSharp.Tests/Templates/Fixtures.</param>
    public static JsonObject Prepare(string outDir, string fixtures, Action<string>? log = null)
    {
        log ??= _ => { };
        Directory.CreateDirectory(outDir);
        var tokenizerDir = Path.Combine(outDir, "tokenizer");
        var corpus = SyntheticDataset.Generate(new ArithmeticTask(), 300, 1, seed: 1)
            .SelectMany(p => new[] { p.Prompt, p.Completion });
        BpeTrainer.TrainToFolder(corpus, new BpeTrainerOptions { VocabSize = VocabSize }, tokenizerDir);
        using var tokenizer = Tokenizer.Load(tokenizerDir);

        var models = new JsonArray();
        foreach (var c in Cases(tokenizer.VocabSize, tokenizer.BosTokenId, tokenizer.EosTokenId ?? 0,
                     tokenizer.PadTokenId))
        {
            var folder = Path.Combine(outDir, "models", c.Name);
            using var model = CreateModel(c);
            ModelFolder.Save(model, folder, new ModelSaveOptions { TokenizerFolder = tokenizerDir });
            var ids = InputIds(c, tokenizer.VocabSize);
            var logits = Logits(model, ids);
            var logitsPath = Path.Combine("ours", "logits", c.Name + ".f32");
            Directory.CreateDirectory(Path.Combine(outDir, "ours", "logits"));
            WriteFloats(Path.Combine(outDir, logitsPath), logits);
            models.Add(new JsonObject
            {
                ["name"] = c.Name, ["model_type"] = c.Config.ModelType, ["features"] = c.Features,
                ["folder"] = Path.Combine("models", c.Name), ["input_ids"] = new JsonArray(ids.Select(i =>
                    (JsonNode)i).ToArray()),
                ["shape"] = new JsonArray(1, Positions, c.Config.VocabSize), ["logits"] = logitsPath,
                ["seed"] = c.Seed, ["weights_digest"] = WeightsDigest(model),
                ["parameters"] = model.ParameterCount(),
            });
            log($"{c.Name}: {model.ParameterCount():N0} parameters, {c.Features}");
        }

        var chat = PrepareChat(outDir, fixtures);
        log($"chat: {chat["templates"]!.AsArray().Count} templates × {chat["conversations"]} conversations");
        var tokenization = new JsonObject
        {
            ["tokenizer"] = "tokenizer", ["texts"] = new JsonArray(Texts.Select(t => (JsonNode)t).ToArray()),
            ["ids"] = new JsonArray(Texts.Select(t => (JsonNode)new JsonArray(tokenizer.Encode(t)
                .Select(i => (JsonNode)i).ToArray())).ToArray()),
        };
        var manifest = new JsonObject
        {
            ["format"] = 1, ["tolerance"] = LogitTolerance, ["fixed_now"] = FixedNow.ToString("s",
                CultureInfo.InvariantCulture),
            ["models"] = models, ["chat"] = chat, ["tokenization"] = tokenization,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, ManifestFile), manifest.ToJsonString(Indented));
        return manifest;
    }

    /// <summary>Copies the conversations and the committed templates (the shared-* ones carry their models' own
    /// licences and stay out), and writes our engine's render of each pair.</summary>
    static JsonObject PrepareChat(string outDir, string fixtures)
    {
        var chatDir = Path.Combine(outDir, "chat");
        Directory.CreateDirectory(Path.Combine(chatDir, "templates"));
        var conversationsText = File.ReadAllText(Path.Combine(fixtures, "conversations.json"));
        AtomicFile.WriteAllText(Path.Combine(chatDir, "conversations.json"), conversationsText);
        var conversations = JsonNode.Parse(conversationsText)!.AsArray();
        var entries = JsonNode.Parse(File.ReadAllText(Path.Combine(fixtures, "templates.json")))!.AsArray();
        var templates = new JsonArray();
        var renders = new JsonObject();
        foreach (var entry in entries.Select(e => e!.AsObject()).Where(e => e.ContainsKey("file")))
        {
            var name = entry["name"]!.GetValue<string>();
            var file = entry["file"]!.GetValue<string>();
            var source = File.ReadAllText(Path.Combine(fixtures, "templates", file));
            AtomicFile.WriteAllText(Path.Combine(chatDir, "templates", file), source);
            templates.Add(new JsonObject
            {
                ["name"] = name, ["file"] = Path.Combine("chat", "templates", file),
                ["tokens"] = entry["tokens"]!.DeepClone(),
            });
            var cases = new JsonObject();
            foreach (var conversation in conversations.Select(c => c!.AsObject()))
                cases[conversation["name"]!.GetValue<string>()] = RenderOurs(name, source,
                    conversation["variables"]!.AsObject(), entry["tokens"]!.AsObject());
            renders[name] = cases;
        }
        Directory.CreateDirectory(Path.Combine(outDir, "ours"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "ours", "renders.json"), renders.ToJsonString(Indented));
        return new JsonObject
        {
            ["conversations"] = conversations.Count, ["conversations_file"] = Path.Combine("chat",
                "conversations.json"),
            ["templates"] = templates, ["renders"] = Path.Combine("ours", "renders.json"),
        };
    }

    /// <summary>Our engine's render, as {"output": text} or {"error": {"kind", "message"}}.</summary>
    public static JsonObject RenderOurs(string name, string source, JsonObject variables, JsonObject tokens)
    {
        var all = (JsonObject)variables.DeepClone();
        foreach (var (key, value) in tokens) all[key] = value?.DeepClone();
        try
        {
            var text = Template.Parse(source, name).RenderText(Template.VariablesFromJson(all.ToJsonString(), name),
                new TemplateRenderOptions { Now = () => FixedNow });
            return new JsonObject { ["output"] = text };
        }
        catch (TemplateException e)
        {
            return new JsonObject
            {
                ["error"] = new JsonObject
                {
                    ["kind"] = e.Kind.ToString(), ["message"] =
                e.Detail
                }
            };
        }
    }

    // ---- compare ----

    /// <summary>One logits comparison: a model on a device (and attention implementation).</summary>
    public sealed record LogitRow(string Model, string Run, double? Error, string? Problem)
    {
        public bool Passed => Error is <= LogitTolerance;
    }

    /// <summary>The renders of one template: cases equal, raised on both sides, and the differences.</summary>
    public sealed record RenderRow(string Template, int Equal, int BothRaise, IReadOnlyList<string> Differences);

    public sealed record TokenRow(string Text, bool Equal, string Detail);

    public sealed record Comparison(IReadOnlyList<LogitRow> Logits, IReadOnlyList<RenderRow> Renders,
        IReadOnlyList<TokenRow> Tokens, IReadOnlyList<string> Problems, JsonObject Environment)
    {
        public bool Passed => Logits.Count > 0 && Logits.All(l => l.Passed) && Renders.Count > 0
            && Renders.All(r => r.Differences.Count == 0) && Tokens.All(t => t.Equal) && Problems.Count == 0;
    }

    /// <summary>Reads the device's results (check.py's results.json and logits) against the prepared
    /// folder.</summary>
    public static Comparison Compare(string prepared, string results)
    {
        var manifest = ReadObject(Path.Combine(prepared, ManifestFile));
        var resultsPath = Path.Combine(results, ResultsFile);
        var device = ReadObject(resultsPath);
        var problems = new List<string>();
        if (device["format"]?.GetValue<int>() != manifest["format"]!.GetValue<int>())
            problems.Add($"{resultsPath}: field 'format' is {device["format"]?.ToJsonString() ?? "missing"}; "
                + $"expected {manifest["format"]}");
        foreach (var (field, value) in device["errors"]?.AsObject() ?? [])
            problems.Add($"check.py: {field}: {value}");

        var logitRows = new List<LogitRow>();
        var deviceModels = device["models"]?.AsObject() ?? [];
        foreach (var model in manifest["models"]!.AsArray().Select(m => m!.AsObject()))
        {
            var name = model["name"]!.GetValue<string>();
            var ours = ReadFloats(Path.Combine(prepared, model["logits"]!.GetValue<string>()));
            int vocab = model["shape"]![2]!.GetValue<int>();
            if (deviceModels[name] is not JsonObject runs || runs.Count == 0)
            {
                logitRows.Add(new LogitRow(name, "-", null, "no result from the device"));
                continue;
            }
            foreach (var (run, value) in runs)
            {
                var entry = value!.AsObject();
                if (entry["error"] is { } error)
                {
                    logitRows.Add(new LogitRow(name, run, null, OneLine(error.GetValue<string>())));
                    continue;
                }
                var path = Path.Combine(results, entry["logits"]!.GetValue<string>());
                var theirs = ReadFloats(path);
                logitRows.Add(theirs.Length != ours.Length
                    ? new LogitRow(name, run, null, $"{path}: {theirs.Length} floats; expected {ours.Length}")
                    : new LogitRow(name, run, WorstRelativeError(ours, theirs, vocab), null));
            }
        }

        var renderRows = new List<RenderRow>();
        var oursRenders = ReadObject(Path.Combine(prepared, manifest["chat"]!["renders"]!.GetValue<string>()));
        var deviceRenders = device["renders"]?.AsObject() ?? [];
        foreach (var (template, casesNode) in oursRenders)
        {
            int equal = 0, bothRaise = 0;
            var differences = new List<string>();
            var theirCases = deviceRenders[template] as JsonObject;
            foreach (var (caseName, oursNode) in casesNode!.AsObject())
            {
                var mine = oursNode!.AsObject();
                if (theirCases?[caseName] is not JsonObject theirs)
                {
                    differences.Add($"{caseName}: no render from the device");
                    continue;
                }
                bool mineRaised = mine.ContainsKey("error"), theyRaised = theirs.ContainsKey("error");
                if (mineRaised && theyRaised) bothRaise++;
                else if (!mineRaised && !theyRaised
                         && mine["output"]!.GetValue<string>() == theirs["output"]!.GetValue<string>()) equal++;
                else differences.Add($"{caseName}: {RenderDifference(mine, theirs)}");
            }
            renderRows.Add(new RenderRow(template, equal, bothRaise, differences));
        }

        var tokenRows = new List<TokenRow>();
        var tokenization = manifest["tokenization"]!.AsObject();
        var theirIds = device["tokenization"]?["ids"]?.AsArray();
        var texts = tokenization["texts"]!.AsArray();
        for (int i = 0; i < texts.Count; i++)
        {
            var text = texts[i]!.GetValue<string>();
            var mine = tokenization["ids"]![i]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            if (theirIds?[i] is not JsonArray theirArray)
            {
                tokenRows.Add(new TokenRow(text, false, device["tokenization"]?["error"]?.GetValue<string>()
                    ?? "no ids from the device"));
                continue;
            }
            var theirs = theirArray.Select(n => n!.GetValue<int>()).ToArray();
            tokenRows.Add(new TokenRow(text, mine.SequenceEqual(theirs), mine.SequenceEqual(theirs)
                ? $"{mine.Length} ids" : $"ours [{string.Join(' ', mine)}] vs [{string.Join(' ', theirs)}]"));
        }
        return new Comparison(logitRows, renderRows, tokenRows, problems,
            device["environment"] as JsonObject ?? []);
    }

    static string RenderDifference(JsonObject mine, JsonObject theirs)
    {
        if (mine["error"] is { } e) return $"ours raised ({OneLine(e["message"]!.GetValue<string>())}), transformers "
            + "rendered";
        if (theirs["error"] is { } t) return $"transformers raised {OneLine(t["type"]?.GetValue<string>() ?? "")}: "
            + $"{OneLine(t["message"]?.GetValue<string>() ?? "")}; ours rendered";
        var a = mine["output"]!.GetValue<string>();
        var b = theirs["output"]!.GetValue<string>();
        int at = 0;
        while (at < a.Length && at < b.Length && a[at] == b[at]) at++;
        string Around(string s) => JsonSerializer.Serialize(s.Substring(Math.Max(0, at - 20),
            Math.Min(s.Length, at + 30) - Math.Max(0, at - 20)));
        return $"first difference at char {at}: ours {Around(a)}, transformers {Around(b)}";
    }

    /// <summary>The worst position's max|Δlogit| / max|logit| (the measure of the llama.cpp parity tests).</summary>
    public static double WorstRelativeError(float[] ours, float[] theirs, int vocab)
    {
        double worst = 0;
        for (int start = 0; start < ours.Length; start += vocab)
        {
            double diff = 0, scale = 0;
            for (int i = start; i < start + vocab; i++)
            {
                diff = Math.Max(diff, Math.Abs((double)ours[i] - theirs[i]));
                scale = Math.Max(scale, Math.Abs((double)ours[i]));
            }
            double error = double.IsFinite(diff) ? diff / Math.Max(scale, 1e-12) : double.PositiveInfinity;
            worst = Math.Max(worst, error);
        }
        return worst;
    }

    /// <summary>The comparison as Markdown tables.</summary>
    public static string Format(Comparison c)
    {
        var s = new StringBuilder();
        if (c.Environment.Count > 0) s.AppendLine($"device: {c.Environment.ToJsonString()}").AppendLine();
        s.AppendLine($"| model | run | worst max|Δ|/max|logit| | ≤ {LogitTolerance:G} |")
            .AppendLine("|---|---|---|---|");
        foreach (var r in c.Logits)
            s.AppendLine($"| {r.Model} | {r.Run} | {(r.Error is { } e ? e.ToString("E2", CultureInfo.InvariantCulture)
                : r.Problem)} | {(r.Passed ? "yes" : "NO")} |");
        s.AppendLine().AppendLine("| template | equal | both raise | differ | first difference |")
            .AppendLine("|---|---|---|---|---|");
        foreach (var r in c.Renders)
            s.AppendLine($"| {r.Template} | {r.Equal} | {r.BothRaise} | {r.Differences.Count} | "
                + $"{(r.Differences.Count > 0 ? r.Differences[0].Replace("|", "\\|") : "")} |");
        s.AppendLine().AppendLine("| text | ids equal | detail |").AppendLine("|---|---|---|");
        foreach (var r in c.Tokens)
            s.AppendLine($"| {JsonSerializer.Serialize(r.Text).Replace("|", "\\|")} | {(r.Equal ? "yes" : "NO")} | "
                + $"{r.Detail.Replace("|", "\\|")} |");
        foreach (var p in c.Problems) s.AppendLine().Append("problem: ").AppendLine(p);
        s.AppendLine().AppendLine(c.Passed ? "PASSED" : "FAILED");
        return s.ToString();
    }

    // ---- golden fixtures ----

    /// <summary>Writes the device's outputs as committed fixtures: per model the ids, the weights' hash and
    /// transformers' CPU logits; per template transformers' renders.</summary>
    public static void WriteFixtures(string prepared, string results, string fixtureDir, string run = "cpu")
    {
        var manifest = ReadObject(Path.Combine(prepared, ManifestFile));
        var device = ReadObject(Path.Combine(results, ResultsFile));
        Directory.CreateDirectory(Path.Combine(fixtureDir, "logits"));
        var models = new JsonArray();
        foreach (var model in manifest["models"]!.AsArray().Select(m => m!.AsObject()))
        {
            var name = model["name"]!.GetValue<string>();
            if (device["models"]?[name]?[run]?["logits"] is not { } logits)
                throw new ReasonSharpException($"{Path.Combine(results, ResultsFile)}: no '{run}' logits for "
                    + $"model '{name}'; expected every model to have run there");
            var target = Path.Combine("logits", $"{name}.f32");
            AtomicFile.Copy(Path.Combine(results, logits.GetValue<string>()), Path.Combine(fixtureDir, target));
            models.Add(new JsonObject
            {
                ["name"] = name, ["input_ids"] = model["input_ids"]!.DeepClone(), ["shape"] =
                    model["shape"]!.DeepClone(), ["seed"] = model["seed"]!.DeepClone(),
                ["weights_digest"] = model["weights_digest"]!.DeepClone(), ["logits"] = target,
                ["config"] = ReadObject(Path.Combine(prepared, model["folder"]!.GetValue<string>(),
                    ModelFolder.ConfigFile)),
            });
        }
        var golden = new JsonObject
        {
            ["source"] = $"transformers on the device machine ({run}), bench/device/check.py",
            ["environment"] = device["environment"]?.DeepClone(), ["tolerance"] = LogitTolerance,
            ["models"] = models, ["renders"] = device["renders"]?.DeepClone(),
            ["tokenization"] = new JsonObject
            {
                ["texts"] = manifest["tokenization"]!["texts"]!.DeepClone(),
                ["ids"] = device["tokenization"]?["ids"]?.DeepClone(),
            },
        };
        AtomicFile.WriteAllText(Path.Combine(fixtureDir, "golden.json"), golden.ToJsonString(Indented));
    }

    /// <summary>Checks the committed golden outputs against the library as it is now: each model rebuilt from its
    /// config and seed (its weights digest must match), its logits against transformers' (≤ 1e-4), and the
    /// engine's renders of the fixture templates against transformers' renders. One line per problem; empty when
    /// all agree.</summary>
    /// <param name="templates">tests/ReasonSharp.Tests/Templates/Fixtures (templates.json, templates/,
    /// conversations.json).</param>
    public static IReadOnlyList<string> VerifyGolden(string fixtureDir, string templates)
    {
        var goldenPath = Path.Combine(fixtureDir, "golden.json");
        var golden = ReadObject(goldenPath);
        var problems = new List<string>();
        foreach (var model in golden["models"]!.AsArray().Select(m => m!.AsObject()))
        {
            var name = model["name"]!.GetValue<string>();
            var config = ModelConfig.Parse(model["config"]!.AsObject(), $"{goldenPath}: models[{name}].config");
            using var built = CreateModel(new ModelCase(name, config, model["seed"]!.GetValue<ulong>(), ""));
            if (WeightsDigest(built) != model["weights_digest"]!.GetValue<string>())
            {
                problems.Add($"{goldenPath}: model '{name}': the weights rebuilt from its config and seed differ "
                    + "from the device's (weights_digest); expected the same generator and parameter order");
                continue;
            }
            var ids = model["input_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
            var theirs = ReadFloats(Path.Combine(fixtureDir, model["logits"]!.GetValue<string>()));
            var error = WorstRelativeError(Logits(built, ids), theirs, model["shape"]![2]!.GetValue<int>());
            if (!(error <= LogitTolerance))
                problems.Add($"{goldenPath}: model '{name}': worst max|Δ|/max|logit| {error:E2} against "
                    + $"transformers; expected ≤ {LogitTolerance:G}");
        }
        if (golden["renders"] is JsonObject renders)
        {
            var conversations = JsonNode.Parse(File.ReadAllText(Path.Combine(templates, "conversations.json")))!
                .AsArray().Select(c => c!.AsObject()).ToDictionary(c => c["name"]!.GetValue<string>());
            var entries = JsonNode.Parse(File.ReadAllText(Path.Combine(templates, "templates.json")))!.AsArray()
                .Select(e => e!.AsObject()).Where(e => e.ContainsKey("file"))
                .ToDictionary(e => e["name"]!.GetValue<string>());
            foreach (var (template, cases) in renders)
            {
                if (!entries.TryGetValue(template, out var entry))
                {
                    problems.Add($"{goldenPath}: renders: template '{template}' is not in templates.json");
                    continue;
                }
                var source = File.ReadAllText(Path.Combine(templates, "templates", entry["file"]!.GetValue<string>()));
                foreach (var (caseName, expected) in cases!.AsObject())
                {
                    if (expected?["output"] is not { } output) continue;
                    if (!conversations.TryGetValue(caseName, out var conversation))
                    {
                        problems.Add($"{goldenPath}: renders.{template}: conversation '{caseName}' is not in "
                            + "conversations.json");
                        continue;
                    }
                    var ours = RenderOurs(template, source, conversation["variables"]!.AsObject(),
                        entry["tokens"]!.AsObject());
                    if (ours["output"]?.GetValue<string>() != output.GetValue<string>())
                        problems.Add($"{goldenPath}: renders.{template}.{caseName}: "
                            + RenderDifference(ours, expected.AsObject()));
                }
            }
        }
        return problems;
    }

    // ---- files ----

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteFloats(string path, float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    public static float[] ReadFloats(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: logits file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length % 4 != 0)
            throw new ReasonSharpException($"{path}: {bytes.Length} bytes; expected little-endian float32 values");
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++)
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        return values;
    }

    public static JsonObject ReadObject(string path)
    {
        if (!File.Exists(path)) throw new ReasonSharpException($"{path}: not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ReasonSharpException($"{path}:1: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ReasonSharpException($"{path}:{(e.LineNumber ?? 0) + 1}: malformed JSON: {e.Message}", e);
        }
    }


    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim() is var t && t.Length > 160 ? t[..160] + "…"
        : s.ReplaceLineEndings(" ").Trim();

    /// <summary>splitmix64 with Box–Muller: the same numbers on every machine and runtime.</summary>
    sealed class SplitMix(ulong seed)
    {
        ulong _state = seed;

        ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }

        double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        public int NextInt(int bound) => (int)(NextDouble() * bound);

        public double NextGaussian()
        {
            double u = 1 - NextDouble(), v = NextDouble();
            return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
        }
    }
}
