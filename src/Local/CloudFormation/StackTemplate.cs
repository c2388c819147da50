using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Pipeline.Local.CloudFormation;

/// <summary>A template error: malformed JSON, an unknown resource type or intrinsic, a dangling reference.</summary>
public sealed class TemplateException(string message) : Exception(message);

/// <summary>
/// The parts of a CloudFormation/SAM template the local environment needs: parameters,
/// resources in dependency order, and the intrinsic functions the template uses
/// (<c>Ref</c>, <c>Fn::GetAtt</c>, <c>Fn::Sub</c>, <c>Fn::Join</c>, <c>Fn::Select</c>, <c>Fn::If</c> and conditions).
/// Hand-written: no .NET package reads CloudFormation templates.
/// </summary>
public sealed partial class StackTemplate
{
    /// <summary>The resource types created locally.</summary>
    public static readonly IReadOnlySet<string> LocalTypes = new HashSet<string>
    {
        "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SNS::Subscription",
    };

    /// <summary>
    /// Types that exist only in AWS: functions run under the local hosts instead, and the rest
    /// (policies, alarms, logs, API Gateway, the SSM parameter naming the stack's resources: no emulator serves SSM, and
    /// the pipeline tool names local resources after the stack; auto scaling: DynamoDB Local never throttles, so a table's
    /// provisioned capacity has no local effect beyond its setting) have no local meaning.
    /// </summary>
    public static readonly IReadOnlySet<string> DeployOnlyTypes = new HashSet<string>
    {
        "AWS::Serverless::Function", "AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::Lambda::Function",
        "AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
        "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
        "AWS::Scheduler::Schedule", "AWS::Events::Rule", "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Athena::WorkGroup", "AWS::Athena::NamedQuery",
        "AWS::SSM::Parameter", "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy",
    };

    private readonly JsonObject _resources;
    private readonly JsonObject _globals;
    private readonly JsonObject _conditions;
    private readonly Dictionary<string, string> _parameters;
    private readonly Dictionary<string, bool> _conditionValues = [];

    private StackTemplate(JsonObject root, string stackName, string region, string accountId, IReadOnlyDictionary<string, string> overrides)
    {
        StackName = stackName;
        Region = region;
        AccountId = accountId;
        _resources = root["Resources"] as JsonObject ?? throw new TemplateException("The template has no Resources object.");
        _conditions = root["Conditions"] as JsonObject ?? [];
        _globals = root["Globals"] as JsonObject ?? [];
        _parameters = ReadParameters(root["Parameters"] as JsonObject ?? [], overrides);
        foreach (var (id, node) in _resources)
        {
            var type = (node as JsonObject)?["Type"]?.GetValue<string>() ?? throw new TemplateException($"Resource '{id}' has no Type.");
            if (!LocalTypes.Contains(type) && !DeployOnlyTypes.Contains(type))
            {
                throw new TemplateException($"Resource '{id}' has type '{type}', which the local environment does not know how to provision.");
            }
        }
    }

    /// <summary>The stack name <c>AWS::StackName</c> resolves to.</summary>
    public string StackName { get; }

    /// <summary>The region <c>AWS::Region</c> resolves to.</summary>
    public string Region { get; }

    /// <summary>The account <c>AWS::AccountId</c> resolves to (the emulators use 000000000000).</summary>
    public string AccountId { get; }

    /// <summary>Parses a template.</summary>
    public static StackTemplate Parse(string json, string stackName, string region = "us-east-1", string accountId = "000000000000",
        IReadOnlyDictionary<string, string>? parameters = null)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new TemplateException($"The template is not valid JSON: {e.Message}");
        }
        if (root is not JsonObject obj)
        {
            throw new TemplateException("The template is not a JSON object.");
        }
        return new StackTemplate(obj, stackName, region, accountId, parameters ?? new Dictionary<string, string>());
    }

    /// <summary>The resources, each after the ones it refers to.</summary>
    public IReadOnlyList<TemplateResource> ResourcesInDependencyOrder()
    {
        var ordered = new List<TemplateResource>();
        var state = new Dictionary<string, bool>(); // false: visiting, true: done
        foreach (var id in _resources.Select(r => r.Key))
        {
            Visit(id, []);
        }
        return ordered;

        void Visit(string id, List<string> path)
        {
            if (state.TryGetValue(id, out var done))
            {
                if (!done)
                {
                    throw new TemplateException($"Circular reference: {string.Join(" -> ", path.Append(id))}.");
                }
                return;
            }
            state[id] = false;
            var node = (JsonObject)_resources[id]!;
            foreach (var dependency in Dependencies(node))
            {
                if (!_resources.ContainsKey(dependency))
                {
                    throw new TemplateException($"Resource '{id}' refers to '{dependency}', which is neither a resource nor a parameter.");
                }
                Visit(dependency, [.. path, id]);
            }
            state[id] = true;
            ordered.Add(new TemplateResource(id, node["Type"]!.GetValue<string>(), node["Properties"] as JsonObject ?? [], node["Condition"]?.GetValue<string>()));
        }
    }

    private IEnumerable<string> Dependencies(JsonObject resource)
    {
        if (resource["DependsOn"] is JsonNode dependsOn)
        {
            foreach (var name in dependsOn is JsonArray a ? a.Select(n => n!.GetValue<string>()) : [dependsOn.GetValue<string>()])
            {
                yield return name;
            }
        }
        foreach (var name in References(resource["Properties"]))
        {
            if (!_parameters.ContainsKey(name) && !name.StartsWith("AWS::", StringComparison.Ordinal))
            {
                yield return name;
            }
        }
    }

    private static IEnumerable<string> References(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject { Count: 1 } o when o.ContainsKey("Ref"):
                yield return o["Ref"]!.GetValue<string>();
                break;
            case JsonObject { Count: 1 } o when o.ContainsKey("Fn::GetAtt"):
                yield return GetAttParts(o["Fn::GetAtt"]!).Resource;
                break;
            case JsonObject { Count: 1 } o when o.ContainsKey("Fn::Sub"):
                var sub = o["Fn::Sub"]!;
                var text = sub is JsonArray arr ? arr[0]!.GetValue<string>() : sub.GetValue<string>();
                var local = sub is JsonArray arr2 && arr2.Count > 1 ? (arr2[1] as JsonObject)?.Select(p => p.Key).ToHashSet() ?? [] : [];
                foreach (Match m in SubVariable().Matches(text))
                {
                    var name = m.Groups[1].Value.Split('.')[0];
                    if (!local.Contains(name))
                    {
                        yield return name;
                    }
                }
                if (sub is JsonArray withVars && withVars.Count > 1)
                {
                    foreach (var r in References(withVars[1]))
                    {
                        yield return r;
                    }
                }
                break;
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    foreach (var r in References(child))
                    {
                        yield return r;
                    }
                }
                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    foreach (var r in References(child))
                    {
                        yield return r;
                    }
                }
                break;
        }
    }

    /// <summary>A property of the SAM <c>Globals.Function</c> section, if the template has it.</summary>
    public JsonNode? FunctionGlobals(string property) => _globals["Function"]?[property];

    /// <summary>True when the resource's condition (if any) holds.</summary>
    public bool IsIncluded(TemplateResource resource) => resource.Condition is null || Condition(resource.Condition);

    /// <summary>
    /// Resolves the intrinsic functions in <paramref name="node"/>. <paramref name="resources"/>
    /// answers <c>Ref</c> and <c>Fn::GetAtt</c> for resources already provisioned.
    /// </summary>
    public JsonNode? Resolve(JsonNode? node, Func<string, string?, string> resources)
    {
        switch (node)
        {
            case JsonObject { Count: 1 } o when o.First().Key is var key && (key == "Ref" || key.StartsWith("Fn::", StringComparison.Ordinal) || key == "Condition"):
                return ResolveFunction(key, o[key]!, resources);
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (name, child) in o)
                {
                    var value = Resolve(child, resources);
                    if (value is not JsonValue v || !v.TryGetValue<string>(out var s) || s != NoValue)
                    {
                        copy[name] = value;
                    }
                }
                return copy;
            case JsonArray a:
                return new JsonArray([.. a.Select(c => Resolve(c, resources)).Where(v => v is not JsonValue jv || !jv.TryGetValue<string>(out var s) || s != NoValue)]);
            default:
                return node?.DeepClone();
        }
    }

    private const string NoValue = "\u0000AWS::NoValue";

    private JsonNode? ResolveFunction(string function, JsonNode argument, Func<string, string?, string> resources)
    {
        switch (function)
        {
            case "Ref":
                return Ref(argument.GetValue<string>(), resources);
            case "Fn::GetAtt":
                var (resource, attribute) = GetAttParts(argument);
                return resources(resource, attribute);
            case "Fn::Sub":
                var template = argument is JsonArray arr ? arr[0]!.GetValue<string>() : argument.GetValue<string>();
                var variables = argument is JsonArray withVars && withVars.Count > 1 ? withVars[1] as JsonObject : null;
                return SubVariable().Replace(template, m =>
                {
                    var name = m.Groups[1].Value;
                    if (variables?[name] is JsonNode local)
                    {
                        return Text(Resolve(local, resources), "Fn::Sub");
                    }
                    var dot = name.IndexOf('.', StringComparison.Ordinal);
                    return dot > 0 && !name.StartsWith("AWS::", StringComparison.Ordinal)
                        ? resources(name[..dot], name[(dot + 1)..])
                        : Ref(name, resources);
                });
            case "Fn::Join":
                var join = Resolve(argument, resources) as JsonArray ?? throw new TemplateException("Fn::Join takes [delimiter, [values]].");
                return string.Join(join[0]!.GetValue<string>(), ((JsonArray)join[1]!).Select(v => Text(v, "Fn::Join")));
            case "Fn::Select":
                var select = Resolve(argument, resources) as JsonArray ?? throw new TemplateException("Fn::Select takes [index, [values]].");
                var index = int.Parse(Text(select[0], "Fn::Select"), CultureInfo.InvariantCulture);
                return ((JsonArray)select[1]!)[index]?.DeepClone();
            case "Fn::If":
                var parts = argument as JsonArray ?? throw new TemplateException("Fn::If takes [condition, then, else].");
                return Resolve(Condition(parts[0]!.GetValue<string>()) ? parts[1] : parts[2], resources);
            default:
                throw new TemplateException($"The intrinsic function '{function}' is not supported by the local environment.");
        }
    }

    private string Ref(string name, Func<string, string?, string> resources) => name switch
    {
        "AWS::StackName" => StackName,
        "AWS::Region" => Region,
        "AWS::AccountId" => AccountId,
        "AWS::Partition" => "aws",
        "AWS::URLSuffix" => "amazonaws.com",
        "AWS::NoValue" => NoValue,
        _ when _parameters.TryGetValue(name, out var value) => value,
        _ when _resources.ContainsKey(name) => resources(name, null),
        _ => throw new TemplateException($"Ref to '{name}', which is neither a parameter nor a resource."),
    };

    private bool Condition(string name)
    {
        if (_conditionValues.TryGetValue(name, out var known))
        {
            return known;
        }
        var definition = _conditions[name] ?? throw new TemplateException($"Unknown condition '{name}'.");
        return _conditionValues[name] = Evaluate(definition);

        bool Evaluate(JsonNode node)
        {
            var (function, argument) = node is JsonObject { Count: 1 } o ? (o.First().Key, o.First().Value!) : throw new TemplateException($"Condition '{name}' is malformed.");
            var args = argument as JsonArray;
            return function switch
            {
                "Fn::Equals" => Text(Resolve(args![0], NoResources), name) == Text(Resolve(args[1], NoResources), name),
                "Fn::Not" => !Evaluate(args![0]!),
                "Fn::And" => args!.All(a => Evaluate(a!)),
                "Fn::Or" => args!.Any(a => Evaluate(a!)),
                "Condition" => Condition(argument.GetValue<string>()),
                _ => throw new TemplateException($"Condition '{name}' uses '{function}', which is not supported."),
            };
        }
    }

    private static string NoResources(string resource, string? attribute) =>
        throw new TemplateException($"A condition refers to the resource '{resource}'; conditions may refer only to parameters.");

    private static (string Resource, string Attribute) GetAttParts(JsonNode argument) => argument switch
    {
        JsonArray { Count: 2 } a => (a[0]!.GetValue<string>(), a[1]!.GetValue<string>()),
        JsonValue v when v.GetValue<string>().Split('.', 2) is [var r, var at] => (r, at),
        _ => throw new TemplateException($"Fn::GetAtt takes [resource, attribute], not {argument.ToJsonString()}."),
    };

    private static string Text(JsonNode? node, string where) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => throw new TemplateException($"{where}: expected a scalar, got {node?.ToJsonString() ?? "null"}."),
    };

    private static Dictionary<string, string> ReadParameters(JsonObject declared, IReadOnlyDictionary<string, string> overrides)
    {
        foreach (var name in overrides.Keys.Where(k => !declared.ContainsKey(k)))
        {
            throw new TemplateException($"Parameter '{name}' is not declared in the template.");
        }
        var values = new Dictionary<string, string>();
        foreach (var (name, definition) in declared)
        {
            if (overrides.TryGetValue(name, out var value))
            {
                Check(name, definition as JsonObject, value);
                values[name] = value;
            }
            else if (definition?["Default"] is JsonValue d)
            {
                values[name] = Text(d, $"Parameter '{name}'");
            }
            else
            {
                throw new TemplateException($"Parameter '{name}' has no Default and no value was given.");
            }
        }
        return values;
    }

    // A given value is checked as CloudFormation checks it, so a local stack refuses what a deployment would, naming it.
    private static void Check(string name, JsonObject? definition, string value)
    {
        if (definition?["AllowedValues"] is JsonArray allowed && !allowed.Any(a => a?.ToString() == value))
        {
            throw new TemplateException($"Parameter '{name}' must be one of {string.Join(", ", allowed.Select(a => a?.ToString()))}, not '{value}'.");
        }
        if (definition?["Type"]?.ToString() != "Number")
        {
            return;
        }
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
        {
            throw new TemplateException($"Parameter '{name}' must be a number, not '{value}'.");
        }
        // Written as numbers or as strings, as CloudFormation takes either.
        static double Bound(JsonNode node) => double.Parse(node.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        if ((definition["MinValue"] is { } min && number < Bound(min)) || (definition["MaxValue"] is { } max && number > Bound(max)))
        {
            var range = $"from {definition["MinValue"]?.ToString() ?? "any"} to {definition["MaxValue"]?.ToString() ?? "any"}";
            throw new TemplateException($"Parameter '{name}' must be {range}, not {value}.");
        }
    }

    [GeneratedRegex(@"\$\{([^}!][^}]*)\}")]
    private static partial Regex SubVariable();
}

/// <summary>One resource of the template, before resolution.</summary>
public sealed record TemplateResource(string LogicalId, string Type, JsonObject Properties, string? Condition);
