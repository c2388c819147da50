using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.S3.Util;
using Amazon.SQS.Model;
using Pipeline.Local.Emulators;

namespace Pipeline.Local.CloudFormation;

/// <summary>What provisioning did to a resource.</summary>
public enum ProvisionOutcome
{
    /// <summary>It did not exist and was created.</summary>
    Created,

    /// <summary>It existed and was changed to match the template.</summary>
    Updated,

    /// <summary>It existed as the template says; nothing was changed.</summary>
    Unchanged,

    /// <summary>It exists only in AWS (a function, a policy, an alarm), or its condition is false.</summary>
    NotLocal,
}

/// <summary>A provisioned resource: its physical name and the attributes other resources refer to.</summary>
public sealed record ProvisionedResource(string LogicalId, string Type, string PhysicalName, string Ref,
    IReadOnlyDictionary<string, string> Attributes, ProvisionOutcome Outcome);

/// <summary>The result of provisioning a template: its resources by logical id.</summary>
/// <param name="StackName">The stack name.</param>
/// <param name="Resources">Every resource of the template, by logical id.</param>
/// <param name="Functions">Each function's <c>Environment</c> and <c>Events</c>, resolved against the local resources:
/// what the local hosts give the function code, so it runs with the settings the template gives it on Lambda.</param>
public sealed record ProvisionedResources(string StackName, IReadOnlyDictionary<string, ProvisionedResource> Resources,
    IReadOnlyDictionary<string, JsonObject> Functions)
{
    /// <summary>A function's environment variables, as the template sets them, resolved locally.</summary>
    public IReadOnlyDictionary<string, string> FunctionEnvironment(string logicalId) =>
        Functions.TryGetValue(logicalId, out var f) && f["Environment"]?["Variables"] is JsonObject variables
            ? variables.ToDictionary(v => v.Key, v => v.Value is JsonValue value ? value.ToString() : v.Value?.ToJsonString() ?? "")
            : throw new KeyNotFoundException($"The template has no function '{logicalId}' with environment variables.");

    /// <summary>A function's setting as the template (or its Globals) gives it, resolved locally: Handler, CodeUri, MemorySize, Timeout...</summary>
    public string? FunctionSetting(string logicalId, string name) =>
        Functions.TryGetValue(logicalId, out var f)
            ? f[name]?.ToString()
            : throw new KeyNotFoundException($"The template has no function '{logicalId}'.");

    /// <summary>The physical name of a resource (queue name, table name, bucket name, topic ARN...).</summary>
    public string this[string logicalId] => Resources.TryGetValue(logicalId, out var r)
        ? r.PhysicalName
        : throw new KeyNotFoundException($"The stack has no local resource '{logicalId}'.");
}

/// <summary>
/// Creates locally every table, queue, bucket, topic and subscription that serverless.template
/// declares, with the template's properties (docs/architecture.md, D7). Running it again changes nothing.
/// </summary>
public sealed class TemplateProvisioner(LocalAws aws, Action<string>? progress = null)
{
    /// <summary>Provisions the repository's serverless.template under <paramref name="stackName"/>.</summary>
    public Task<ProvisionedResources> ProvisionAsync(string stackName, CancellationToken cancellationToken) =>
        ProvisionAsync(File.ReadAllText(RepositoryPaths.Discover().Template), stackName, null, cancellationToken);

    /// <summary>Provisions the template <paramref name="templateJson"/>.</summary>
    public async Task<ProvisionedResources> ProvisionAsync(string templateJson, string stackName,
        IReadOnlyDictionary<string, string>? parameters, CancellationToken cancellationToken)
    {
        var template = StackTemplate.Parse(templateJson, stackName, aws.Endpoints.Region, parameters: parameters);
        var done = new Dictionary<string, ProvisionedResource>();
        string Lookup(string id, string? attribute)
        {
            if (!done.TryGetValue(id, out var r) || r.Outcome == ProvisionOutcome.NotLocal)
            {
                throw new TemplateException($"'{id}' is referred to by a local resource but exists only in AWS.");
            }
            return attribute is null ? r.Ref
                : r.Attributes.TryGetValue(attribute, out var value) ? value
                : throw new TemplateException($"Fn::GetAtt {id}.{attribute}: the local environment knows no attribute '{attribute}' of {r.Type}.");
        }

        var functions = new Dictionary<string, JsonObject>();
        foreach (var resource in template.ResourcesInDependencyOrder())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (resource.Type == "AWS::Serverless::Function")
            {
                // Globals.Function variables, overridden by the function's own, as SAM merges them.
                var variables = new JsonObject();
                foreach (var source in new[] { template.FunctionGlobals("Environment")?["Variables"], resource.Properties["Environment"]?["Variables"] })
                {
                    foreach (var (name, value) in template.Resolve(source, Lookup) as JsonObject ?? [])
                    {
                        variables[name] = value?.DeepClone();
                    }
                }
                // Only the SQS events have a local meaning (the event source host); the others name AWS-only resources.
                var events = new JsonObject();
                foreach (var (name, definition) in resource.Properties["Events"] as JsonObject ?? [])
                {
                    if (definition?["Type"]?.GetValue<string>() == "SQS")
                    {
                        events[name] = template.Resolve(definition, Lookup);
                    }
                }
                JsonNode? Setting(string name) => template.Resolve(resource.Properties[name] ?? template.FunctionGlobals(name), Lookup)?.DeepClone();
                var logging = resource.Properties["LoggingConfig"] ?? template.FunctionGlobals("LoggingConfig");
                functions[resource.LogicalId] = new JsonObject
                {
                    ["Environment"] = new JsonObject { ["Variables"] = variables },
                    ["Events"] = events,
                    ["FunctionName"] = Setting("FunctionName"),
                    ["CodeUri"] = Setting("CodeUri"),
                    ["Handler"] = Setting("Handler"),
                    ["MemorySize"] = Setting("MemorySize"),
                    ["Timeout"] = Setting("Timeout"),
                    ["EphemeralStorage"] = Setting("EphemeralStorage"),
                    // The log group exists only in AWS; the format and levels are what the function sees.
                    ["LogFormat"] = logging?["LogFormat"]?.DeepClone(),
                    ["ApplicationLogLevel"] = logging?["ApplicationLogLevel"]?.DeepClone(),
                    ["SystemLogLevel"] = logging?["SystemLogLevel"]?.DeepClone(),
                };
            }
            if (!StackTemplate.LocalTypes.Contains(resource.Type) || !template.IsIncluded(resource))
            {
                done[resource.LogicalId] = new(resource.LogicalId, resource.Type, "", "", new Dictionary<string, string>(), ProvisionOutcome.NotLocal);
                continue;
            }
            var properties = (JsonObject)template.Resolve(resource.Properties, Lookup)!;
            var defaultName = $"{stackName}-{resource.LogicalId}".ToLowerInvariant();
            var provisioned = resource.Type switch
            {
                "AWS::SQS::Queue" => await QueueAsync(resource, properties, defaultName, cancellationToken),
                "AWS::DynamoDB::Table" => await TableAsync(resource, properties, defaultName, cancellationToken),
                "AWS::S3::Bucket" => await BucketAsync(resource, properties, defaultName, cancellationToken),
                "AWS::SNS::Topic" => await TopicAsync(resource, properties, defaultName, cancellationToken),
                _ => await SubscriptionAsync(resource, properties, cancellationToken),
            };
            done[resource.LogicalId] = provisioned;
            progress?.Invoke($"  {provisioned.Outcome,-9} {resource.Type,-22} {resource.LogicalId,-24} {provisioned.PhysicalName}");
        }
        return new ProvisionedResources(stackName, done, functions);
    }

    // Properties CloudFormation accepts that have no local effect (encryption, tags, backups...).
    private static readonly HashSet<string> NoLocalEffect =
    [
        "Tags", "SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "PointInTimeRecoverySpecification",
        "SSESpecification", "DeletionProtectionEnabled", "ContributorInsightsSpecification", "TableClass",
        "PublicAccessBlockConfiguration", "BucketEncryption", "LifecycleConfiguration", "VersioningConfiguration",
        "OwnershipControls", "NotificationConfiguration", "DisplayName",
    ];

    private static readonly HashSet<string> QueueAttributes =
    [
        "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds",
        "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication",
    ];

    private static void RejectUnknown(TemplateResource resource, JsonObject properties, params string[] handled)
    {
        foreach (var name in properties.Select(p => p.Key))
        {
            if (!handled.Contains(name) && !NoLocalEffect.Contains(name))
            {
                throw new TemplateException($"{resource.LogicalId} ({resource.Type}): the property '{name}' is not supported by the local environment.");
            }
        }
    }

    private async Task<ProvisionedResource> QueueAsync(TemplateResource resource, JsonObject properties, string defaultName, CancellationToken ct)
    {
        RejectUnknown(resource, properties, [.. QueueAttributes, "QueueName"]);
        var name = properties["QueueName"]?.GetValue<string>() ?? defaultName;
        var wanted = properties.Where(p => QueueAttributes.Contains(p.Key))
            .ToDictionary(p => p.Key, p => p.Value is JsonObject o ? o.ToJsonString() : Scalar(p.Value));

        ProvisionOutcome outcome;
        string url;
        try
        {
            url = (await aws.Sqs.GetQueueUrlAsync(name, ct)).QueueUrl;
            var current = (await aws.Sqs.GetQueueAttributesAsync(url, ["All"], ct)).Attributes;
            var changed = wanted.Where(w => !current.TryGetValue(w.Key, out var c) || !SameAttribute(w.Key, c, w.Value))
                .ToDictionary(w => w.Key, w => w.Value);
            if (changed.Count > 0)
            {
                await aws.Sqs.SetQueueAttributesAsync(url, changed, ct);
            }
            outcome = changed.Count > 0 ? ProvisionOutcome.Updated : ProvisionOutcome.Unchanged;
        }
        catch (QueueDoesNotExistException)
        {
            url = (await aws.Sqs.CreateQueueAsync(new CreateQueueRequest { QueueName = name, Attributes = wanted }, ct)).QueueUrl;
            outcome = ProvisionOutcome.Created;
        }
        var arn = (await aws.Sqs.GetQueueAttributesAsync(url, ["QueueArn"], ct)).QueueARN;
        return new(resource.LogicalId, resource.Type, name, url,
            new Dictionary<string, string> { ["Arn"] = arn, ["QueueName"] = name, ["QueueUrl"] = url }, outcome);
    }

    private static bool SameAttribute(string name, string current, string wanted) =>
        name == "RedrivePolicy" ? JsonNode.DeepEquals(JsonNode.Parse(current), Normalize(JsonNode.Parse(wanted)))
        : string.Equals(current, wanted, StringComparison.OrdinalIgnoreCase);

    // SQS answers maxReceiveCount as a number; the template may give it as a string.
    private static JsonNode? Normalize(JsonNode? redrive)
    {
        if (redrive is JsonObject o && o["maxReceiveCount"] is JsonValue v && v.TryGetValue<string>(out var s))
        {
            o["maxReceiveCount"] = int.Parse(s, CultureInfo.InvariantCulture);
        }
        return redrive;
    }

    private async Task<ProvisionedResource> TableAsync(TemplateResource resource, JsonObject properties, string defaultName, CancellationToken ct)
    {
        RejectUnknown(resource, properties, "TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
            "TimeToLiveSpecification", "StreamSpecification"); // no index: the pipeline reads its tables by key only
        var name = properties["TableName"]?.GetValue<string>() ?? defaultName;
        var keySchema = KeySchema(properties["KeySchema"]);
        var payPerRequest = properties["BillingMode"]?.GetValue<string>() != "PROVISIONED";
        var outcome = ProvisionOutcome.Unchanged;
        TableDescription table;
        try
        {
            table = (await aws.DynamoDb.DescribeTableAsync(name, ct)).Table;
            var existing = table.KeySchema.Select(k => $"{k.AttributeName}:{k.KeyType}");
            if (!existing.SequenceEqual(keySchema.Select(k => $"{k.AttributeName}:{k.KeyType}")))
            {
                throw new TemplateException($"Table {name} exists with a different key schema ({string.Join(", ", existing)}); delete it to let provisioning recreate it.");
            }
            if (await UpdateBillingAsync(table, payPerRequest, properties["ProvisionedThroughput"], ct) is { } updated)
            {
                (table, outcome) = (updated, ProvisionOutcome.Updated);
            }
        }
        catch (Amazon.DynamoDBv2.Model.ResourceNotFoundException)
        {
            var request = new CreateTableRequest
            {
                TableName = name,
                KeySchema = keySchema,
                AttributeDefinitions =
                [
                    .. Array(properties["AttributeDefinitions"])
                        .Select(a => new AttributeDefinition(Str(a, "AttributeName"), new ScalarAttributeType(Str(a, "AttributeType")))),
                ],
                BillingMode = payPerRequest ? BillingMode.PAY_PER_REQUEST : BillingMode.PROVISIONED,
                ProvisionedThroughput = payPerRequest ? null : Throughput(properties["ProvisionedThroughput"]),
            };
            table = (await aws.DynamoDb.CreateTableAsync(request, ct)).TableDescription;
            outcome = ProvisionOutcome.Created;
        }

        if (properties["TimeToLiveSpecification"] is JsonObject ttl && ttl["Enabled"]?.GetValue<bool>() == true)
        {
            var attribute = Str(ttl, "AttributeName");
            var current = (await aws.DynamoDb.DescribeTimeToLiveAsync(name, ct)).TimeToLiveDescription;
            if (current.TimeToLiveStatus != TimeToLiveStatus.ENABLED || current.AttributeName != attribute)
            {
                await aws.DynamoDb.UpdateTimeToLiveAsync(new UpdateTimeToLiveRequest
                {
                    TableName = name,
                    TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = attribute, Enabled = true },
                }, ct);
                outcome = outcome == ProvisionOutcome.Created ? outcome : ProvisionOutcome.Updated;
            }
        }
        return new(resource.LogicalId, resource.Type, name, name,
            new Dictionary<string, string> { ["Arn"] = table.TableArn, ["StreamArn"] = table.LatestStreamArn ?? "" }, outcome);
    }

    // A billing mode or provisioned capacity the template changed (a parameter: EventsTableBillingMode), as CloudFormation
    // updates it in place; null when the table already bills as the template says.
    private async Task<TableDescription?> UpdateBillingAsync(TableDescription table, bool payPerRequest, JsonNode? throughput, CancellationToken ct)
    {
        // A table created provisioned without naming a mode has no summary.
        var current = table.BillingModeSummary?.BillingMode ?? BillingMode.PROVISIONED;
        var wanted = payPerRequest ? null : Throughput(throughput);
        var same = payPerRequest
            ? current == BillingMode.PAY_PER_REQUEST
            : current == BillingMode.PROVISIONED && table.ProvisionedThroughput?.ReadCapacityUnits == wanted!.ReadCapacityUnits
                && table.ProvisionedThroughput?.WriteCapacityUnits == wanted.WriteCapacityUnits;
        if (same)
        {
            return null;
        }
        return (await aws.DynamoDb.UpdateTableAsync(new UpdateTableRequest
        {
            TableName = table.TableName,
            BillingMode = payPerRequest ? BillingMode.PAY_PER_REQUEST : BillingMode.PROVISIONED,
            ProvisionedThroughput = wanted,
        }, ct)).TableDescription;
    }

    private async Task<ProvisionedResource> BucketAsync(TemplateResource resource, JsonObject properties, string defaultName, CancellationToken ct)
    {
        RejectUnknown(resource, properties, "BucketName");
        var name = properties["BucketName"]?.GetValue<string>() ?? defaultName;
        var outcome = ProvisionOutcome.Unchanged;
        if (!await AmazonS3Util.DoesS3BucketExistV2Async(aws.S3, name))
        {
            await aws.S3.PutBucketAsync(name, ct);
            outcome = ProvisionOutcome.Created;
        }
        return new(resource.LogicalId, resource.Type, name, name, new Dictionary<string, string>
        {
            ["Arn"] = $"arn:aws:s3:::{name}",
            ["DomainName"] = $"{name}.s3.amazonaws.com",
            ["RegionalDomainName"] = $"{name}.s3.{aws.Endpoints.Region}.amazonaws.com",
        }, outcome);
    }

    private async Task<ProvisionedResource> TopicAsync(TemplateResource resource, JsonObject properties, string defaultName, CancellationToken ct)
    {
        RejectUnknown(resource, properties, "TopicName", "FifoTopic");
        var name = properties["TopicName"]?.GetValue<string>() ?? defaultName;
        var arn = $"arn:aws:sns:{aws.Endpoints.Region}:000000000000:{name}";
        var outcome = ProvisionOutcome.Unchanged;
        try
        {
            await aws.Sns.GetTopicAttributesAsync(arn, ct);
        }
        catch (Sns.SnsException e) when (e.Code == "NotFound")
        {
            var attributes = properties["FifoTopic"] is JsonNode fifo ? new Dictionary<string, string> { ["FifoTopic"] = Scalar(fifo) } : [];
            arn = await aws.Sns.CreateTopicAsync(name, attributes, ct);
            outcome = ProvisionOutcome.Created;
        }
        return new(resource.LogicalId, resource.Type, arn, arn, new Dictionary<string, string> { ["TopicArn"] = arn, ["TopicName"] = name }, outcome);
    }

    private async Task<ProvisionedResource> SubscriptionAsync(TemplateResource resource, JsonObject properties, CancellationToken ct)
    {
        RejectUnknown(resource, properties, "TopicArn", "Protocol", "Endpoint", "RawMessageDelivery", "FilterPolicy", "FilterPolicyScope");
        var topic = Str(properties, "TopicArn");
        var protocol = Str(properties, "Protocol");
        var endpoint = Str(properties, "Endpoint");
        var existing = (await aws.Sns.ListSubscriptionsByTopicAsync(topic, ct)).FirstOrDefault(s => s.Protocol == protocol && s.Endpoint == endpoint);
        var outcome = ProvisionOutcome.Unchanged;
        var arn = existing?.SubscriptionArn;
        if (arn is null)
        {
            var attributes = new Dictionary<string, string>();
            foreach (var key in new[] { "RawMessageDelivery", "FilterPolicy", "FilterPolicyScope" })
            {
                if (properties[key] is JsonNode value)
                {
                    attributes[key] = value is JsonObject o ? o.ToJsonString() : Scalar(value);
                }
            }
            arn = await aws.Sns.SubscribeAsync(topic, protocol, endpoint, attributes, ct);
            outcome = ProvisionOutcome.Created;
        }
        return new(resource.LogicalId, resource.Type, arn, arn, new Dictionary<string, string>(), outcome);
    }

    private static List<KeySchemaElement> KeySchema(JsonNode? node) =>
        [.. Array(node).Select(k => new KeySchemaElement(Str(k, "AttributeName"), new KeyType(Str(k, "KeyType"))))];

    private static ProvisionedThroughput Throughput(JsonNode? node) => new(
        long.Parse(Scalar(node?["ReadCapacityUnits"] ?? 5), CultureInfo.InvariantCulture),
        long.Parse(Scalar(node?["WriteCapacityUnits"] ?? 5), CultureInfo.InvariantCulture));

    private static IEnumerable<JsonObject> Array(JsonNode? node) => node is JsonArray a ? a.OfType<JsonObject>() : [];

    private static string Str(JsonNode node, string name) =>
        node[name] is JsonValue v ? Scalar(v) : throw new TemplateException($"Missing '{name}' in {node.ToJsonString()}.");

    private static string Scalar(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        JsonValue v => v.ToJsonString(),
        _ => throw new TemplateException($"Expected a scalar, got {node?.ToJsonString() ?? "null"}."),
    };
}
