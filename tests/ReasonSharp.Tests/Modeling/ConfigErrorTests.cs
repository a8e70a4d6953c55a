using ReasonSharp.Modeling;

namespace ReasonSharp.Tests.Modeling;

public class ConfigErrorTests
{
    static string SaveTiny(TempDir dir)
    {
        using var model = TinyModels.Create("qwen2", tied: false);
        ModelFolder.Save(model, dir.Path);
        return dir.Path;
    }

    static ReasonSharpException LoadFails(string folder) => Assert.Throws<ReasonSharpException>(() => ModelFolder.Load(folder));

    static void EditConfig(string folder, Func<string, string> edit)
    {
        var path = Path.Combine(folder, ModelFolder.ConfigFile);
        File.WriteAllText(path, edit(File.ReadAllText(path)));
    }

    [Fact]
    public void MalformedConfigNamesTheFileAndLine()
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s => s.Replace("\"hidden_size\": 32", "\"hidden_size\": 32,,"));
        var e = LoadFails(dir.Path);
        Assert.Contains("config.json", e.Message);
        Assert.Contains("line", e.Message);
    }

    [Fact]
    public void UnknownArchitectureIsAnErrorNamingTheField()
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s => s.Replace("\"model_type\": \"qwen2\"", "\"model_type\": \"gpt_neox\""));
        var e = LoadFails(dir.Path);
        Assert.Contains("model_type", e.Message);
        Assert.Contains("gpt_neox", e.Message);
    }

    [Theory]
    [InlineData("\"use_sliding_window\": false", "\"use_sliding_window\": true", "use_sliding_window")]
    [InlineData("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling.rope_type")]
    [InlineData("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act")]
    [InlineData("\"hidden_size\": 32", "\"hidden_size\": \"32\"", "hidden_size")]
    [InlineData("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", "num_key_value_heads")]
    public void UnsupportedNumericsAreErrorsNamingTheField(string original, string replacement, string field)
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s => { Assert.Contains(original, s); return s.Replace(original, replacement); });
        Assert.Contains(field, LoadFails(dir.Path).Message);
    }

    [Theory]
    [InlineData("rope_theta", "-1", "'rope_theta' must be a finite number > 0, got -1")]
    [InlineData("rope_theta", "0", "'rope_theta' must be a finite number > 0, got 0")]
    [InlineData("rms_norm_eps", "0", "'rms_norm_eps' must be a finite number > 0, got 0")]
    [InlineData("rms_norm_eps", "-1e-6", "'rms_norm_eps' must be a finite number > 0")]
    [InlineData("initializer_range", "-0.02", "'initializer_range' must be a finite number >= 0, got -0.02")]
    [InlineData("max_position_embeddings", "0", "'max_position_embeddings' must be positive, got 0")]
    [InlineData("intermediate_size", "-64", "'intermediate_size' must be positive, got -64")]
    [InlineData("rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 0}",
        "'rope_scaling.factor' must be a finite number > 0")]
    [InlineData("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 1, " +
                "\"high_freq_factor\": 1, \"original_max_position_embeddings\": 8192}",
        "'rope_scaling.high_freq_factor' (1) must be finite and greater")]
    public void ValuesThatWouldMakeNaNAreErrorsNamingTheField(string field, string value, string expected)
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s =>
            System.Text.RegularExpressions.Regex.Replace(s, $"\"{field}\": [^,\n]+", $"\"{field}\": {value}"));
        var e = LoadFails(dir.Path);
        Assert.Contains(Path.Combine(dir.Path, ModelFolder.ConfigFile), e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingShardNamesTheShardAndIndex()
    {
        using var dir = TestEnvironment.NewTempDir();
        using (var model = TinyModels.Create("llama", tied: false))
            ModelFolder.Save(model, dir.Path, new ModelSaveOptions { MaxShardBytes = 20_000 });
        var shard = ModelFolder.WeightFiles(dir.Path)[1];
        File.Delete(shard);
        var e = LoadFails(dir.Path);
        Assert.Contains(Path.GetFileName(shard), e.Message);
        Assert.Contains(ModelFolder.IndexFile, e.Message);
    }

    [Fact]
    public void WrongTensorShapeListsTheKeyAndBothShapes()
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s => s.Replace("\"intermediate_size\": 64", "\"intermediate_size\": 48"));
        var e = LoadFails(dir.Path);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", e.Message);
        Assert.Contains("[64, 32]", e.Message);
        Assert.Contains("[48, 32]", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreListed()
    {
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        EditConfig(dir.Path, s => s.Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        var e = LoadFails(dir.Path);
        Assert.Contains("missing key 'model.layers.2.self_attn.q_proj.weight'", e.Message);
        EditConfig(dir.Path, s => s.Replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 1"));
        Assert.Contains("unexpected key 'model.layers.1.mlp.up_proj.weight'", LoadFails(dir.Path).Message);
    }

    [Fact]
    public void MissingFolderAndMissingWeightsAreClear()
    {
        Assert.Contains("not found", LoadFails("/nonexistent/model").Message);
        using var dir = TestEnvironment.NewTempDir();
        SaveTiny(dir);
        File.Delete(Path.Combine(dir.Path, ModelFolder.SingleFile));
        Assert.Contains("no model.safetensors", LoadFails(dir.Path).Message);
    }
}
