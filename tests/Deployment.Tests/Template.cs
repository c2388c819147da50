using System.Text.Json.Nodes;
using Pipeline.Local;

namespace Pipeline.Deployment.Tests;

/// <summary>serverless.template, read as JSON, with the lookups the tests need.</summary>
public static class Template
{
    public static JsonObject Root { get; } = (JsonObject)JsonNode.Parse(File.ReadAllText(RepositoryPaths.Discover().Template))!;

    public static JsonObject Resources => Root[nameof(Resources)]!.AsObject();

    public static JsonObject Properties(string logicalId) => Resources[logicalId]!["Properties"]!.AsObject();

    public static IEnumerable<string> OfType(string type) =>
        Resources.Where(r => r.Value!["Type"]!.GetValue<string>() == type).Select(r => r.Key);

    public static IEnumerable<string> Functions => OfType("AWS::Serverless::Function");

    /// <summary>A function property, or the Globals.Function one.</summary>
    public static JsonNode? FunctionProperty(string function, string name) =>
        Properties(function)[name] ?? Root["Globals"]?["Function"]?[name];

    public static IReadOnlyDictionary<string, JsonNode?> Environment(string function) =>
        (Properties(function)["Environment"]?["Variables"]?.AsObject() ?? []).ToDictionary(v => v.Key, v => v.Value);

    /// <summary>The Allow statements of the function's role.</summary>
    public static IEnumerable<JsonObject> AllowStatements(string function)
    {
        var role = Properties(function)["Role"]!["Fn::GetAtt"]![0]!.GetValue<string>();
        return Properties(role)["Policies"]!.AsArray()
            .SelectMany(p => p!["PolicyDocument"]!["Statement"]!.AsArray())
            .Select(s => s!.AsObject())
            .Where(s => s["Effect"]!.GetValue<string>() == "Allow");
    }

    public static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(n => n!.GetValue<string>()),
        JsonValue v => [v.GetValue<string>()],
        _ => [],
    };

    /// <summary>A policy resource as (logical id, qualifier): GetAtt X.Arn → (X, ""), Sub "${X.Arn}/*" → (X, "/*"), Ref X → (X, "").</summary>
    public static (string Resource, string Qualifier) ResourceOf(JsonNode node) => node switch
    {
        JsonObject o when o["Fn::GetAtt"] is JsonArray a => (a[0]!.GetValue<string>(), ""),
        JsonObject o when o["Ref"] is JsonValue r => (r.GetValue<string>(), ""),
        JsonObject o when o["Fn::Sub"] is JsonValue s && s.GetValue<string>() is var text && text.StartsWith("${", StringComparison.Ordinal) =>
            (text[2..text.IndexOf(".Arn}", StringComparison.Ordinal)], text[(text.IndexOf('}', StringComparison.Ordinal) + 1)..]),
        _ => throw new InvalidOperationException($"Unrecognized policy resource {node.ToJsonString()}"),
    };
}
