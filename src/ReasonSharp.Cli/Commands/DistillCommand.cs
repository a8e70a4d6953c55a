using System.CommandLine;
using System.Globalization;
using ReasonSharp.Distillation;
using ReasonSharp.Jobs;

namespace ReasonSharp.Cli.Commands;

/// <summary>
/// `reason distill --teacher URL|MODEL --dataset F --out traces.jsonl [--n 4 --keep 1 --reward accuracy …]`: verified
/// reasoning traces from an OpenAI-compatible teacher, resumable through the request cache. Flags override a
/// --config recipe only when given.
/// </summary>
public static class DistillCommand
{
    public static Command Create()
    {
        var teacher = new Option<string?>("--teacher")
        {
            Description = "An OpenAI-compatible base URL (vLLM, SGLang, llama-server, Ollama, OpenAI, DeepSeek, " +
                "reason serve), or a model folder served by our engine for the run.",
        };
        var teacherModel = new Option<string?>("--teacher-model")
        {
            Description = "The model id to request; default: the first of the teacher's /v1/models.",
        };
        var dataset = new Option<string?>("--dataset")
        {
            Description = "Prompts with gold answers: a .jsonl/.json/.parquet file or a dataset folder.",
        };
        var output = new Option<string?>("--out")
        {
            Description = "SFT JSONL of verified traces (prompt, completion); OUT.stats.jsonl (per-prompt pass " +
                "rate), OUT.summary.json and the request cache OUT.cache/ go beside it.",
        };
        var n = new Option<int?>("--n") { Description = "Completions asked for per prompt, at most (default 4)." };
        var keep = new Option<int?>("--keep")
        {
            Description = "Verified completions kept per prompt; asking stops once reached (default 1).",
        };
        var reward = new Option<string?>("--reward")
        {
            Description = "Reward functions that verify a completion (default accuracy).",
        };
        var threshold = new Option<double?>("--threshold")
        {
            Description = "A completion is verified when its total reward reaches this (default 1).",
        };
        var concurrency = new Option<int?>("--concurrency") { Description = "Requests in flight (default 16)." };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "max_tokens per request (default 4096)." };
        var temperature = new Option<double?>("--temperature") { Description = "Sampling temperature (default 0.6)." };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling (default 0.95)." };
        var seed = new Option<long?>("--seed") { Description = "Seed of the first request (default 0)." };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N prompts." };
        var split = new Option<string?>("--split") { Description = "Split of a dataset folder (default train)." };
        var apiKeyEnv = new Option<string?>("--api-key-env")
        {
            Description = "Environment variable holding the API key, e.g. OPENAI_API_KEY.",
        };
        var thinking = new Option<bool?>("--enable-thinking")
        {
            Description = "Send chat_template_kwargs.enable_thinking (vLLM, SGLang, reason serve).",
        };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Request cache folder (default OUT.cache)." };
        var maxRetries = new Option<int?>("--max-retries")
        {
            Description = "Retries after 429, 5xx, time-outs (default 8).",
        };
        var promptCost = new Option<double?>("--prompt-cost-per-million")
        {
            Description = "Price per million prompt tokens, for the cost report.",
        };
        var completionCost = new Option<double?>("--completion-cost-per-million")
        {
            Description = "Price per million completion tokens, for the cost report.",
        };
        var device = new Option<string?>("--device")
        {
            Description = "Device of a model-folder teacher (default auto).",
        };
        var format = CommonOptions.ChatFormatOption();
        var command = new Command("distill", "Distil verified reasoning traces from a teacher (rejection sampling " +
            "through an OpenAI-compatible API) into SFT data; retries, a request cache that makes reruns resume, " +
            "token usage and cost.")
        {
            teacher, teacherModel, dataset, output, n, keep, reward, threshold, concurrency, maxTokens, temperature,
            topP, seed, limit, split, apiKeyEnv, thinking, cacheDir, maxRetries, promptCost, completionCost, device,
            format,
        };
        var job = new JobCli("distill");
        job.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var bound = job.Bind<DistillOptions>(parse, o => o with
            {
                Teacher = parse.GetValue(teacher) ?? o.Teacher,
                TeacherModel = parse.GetValue(teacherModel) ?? o.TeacherModel,
                Dataset = parse.GetValue(dataset) ?? o.Dataset,
                OutputFile = parse.GetValue(output) ?? o.OutputFile,
                N = parse.GetValue(n) ?? o.N,
                Keep = parse.GetValue(keep) ?? o.Keep,
                Reward = parse.GetValue(reward) ?? o.Reward,
                Threshold = parse.GetValue(threshold) ?? o.Threshold,
                Concurrency = parse.GetValue(concurrency) ?? o.Concurrency,
                MaxTokens = parse.GetValue(maxTokens) ?? o.MaxTokens,
                Temperature = parse.GetValue(temperature) ?? o.Temperature,
                TopP = parse.GetValue(topP) ?? o.TopP,
                Seed = parse.GetValue(seed) ?? o.Seed,
                Limit = parse.GetValue(limit) ?? o.Limit,
                DatasetSplit = parse.GetValue(split) ?? o.DatasetSplit,
                ApiKeyEnv = parse.GetValue(apiKeyEnv) ?? o.ApiKeyEnv,
                EnableThinking = parse.GetValue(thinking) ?? o.EnableThinking,
                CacheDir = parse.GetValue(cacheDir) ?? o.CacheDir,
                MaxRetries = parse.GetValue(maxRetries) ?? o.MaxRetries,
                PromptCostPerMillion = parse.GetValue(promptCost) ?? o.PromptCostPerMillion,
                CompletionCostPerMillion = parse.GetValue(completionCost) ?? o.CompletionCostPerMillion,
                Device = parse.GetValue(device) ?? o.Device,
                ChatFormat = parse.GetValue(format) ?? o.ChatFormat,
            });
            return await Task.Run(() => job.Run(parse, bound, done => Print((DistillSummary)done.Details!),
                cancellationToken), cancellationToken);
        });
        return command;
    }

    static void Print(DistillSummary s)
    {
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        Console.WriteLine($"{s.Prompts} prompts: {s.Verified}/{s.Completions} completions verified (mean per-prompt " +
            $"pass rate {F(s.MeanPassRate, "0.000")}); kept {s.KeptRows} traces from {s.PromptsKept} prompts" +
            (s.PromptErrors > 0 ? $"; the teacher refused {s.PromptErrors} prompts" : ""));
        Console.WriteLine($"requests: {s.RequestsSent} sent ({s.Retries} retries), {s.CacheHits} replayed from the " +
            $"cache; tokens: {s.Usage.PromptTokens} prompt + {s.Usage.CompletionTokens} completion, paid this run " +
            $"{s.PaidUsage.PromptTokens} + {s.PaidUsage.CompletionTokens}" +
            (s.Cost is { } cost ? $"; cost {F(cost, "0.####")} (this run {F(s.PaidCost ?? 0, "0.####")})" : "") +
            $"; {F(s.Seconds, "0.#")} s");
        Console.WriteLine($"wrote {s.Files.Traces}, {s.Files.Stats} and {s.Files.Summary}");
    }
}
