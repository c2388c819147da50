using System.Text.Json.Nodes;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local.Notifications;

/// <summary>One <c>QueueConfigurations</c> entry of a bucket's <c>NotificationConfiguration</c> in the template, resolved locally.</summary>
/// <param name="Bucket">The bucket's name.</param>
/// <param name="QueueUrl">The queue the notifications go to.</param>
/// <param name="Id">The configuration's id (S3's <c>configurationId</c>).</param>
/// <param name="Prefix">The key prefix filter, or empty.</param>
/// <param name="Suffix">The key suffix filter, or empty.</param>
public sealed record QueueNotification(string Bucket, string QueueUrl, string Id, string Prefix, string Suffix)
{
    /// <summary>Whether a created object's key passes the filter.</summary>
    public bool Matches(string key) =>
        key.StartsWith(Prefix, StringComparison.Ordinal) && key.EndsWith(Suffix, StringComparison.Ordinal);

    /// <summary>
    /// The queue notifications of every bucket of the template that has them, for <c>s3:ObjectCreated:*</c> (the only
    /// event the local environment delivers; another is an error naming it, as the provisioner refuses what it cannot do).
    /// </summary>
    public static IReadOnlyList<QueueNotification> FromTemplate(string templateJson, ProvisionedResources stack, string region)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var template = StackTemplate.Parse(templateJson, stack.StackName, region);
        string Lookup(string id, string? attribute) =>
            stack.Resources.TryGetValue(id, out var r)
                ? attribute is null ? r.Ref : r.Attributes.TryGetValue(attribute, out var v) ? v : throw new TemplateException($"{id} has no local attribute {attribute}.")
                : throw new TemplateException($"'{id}' is not provisioned locally.");
        var found = new List<QueueNotification>();
        foreach (var resource in template.ResourcesInDependencyOrder().Where(r => r.Type == "AWS::S3::Bucket" && template.IsIncluded(r)))
        {
            if (resource.Properties["NotificationConfiguration"] is not JsonObject)
            {
                continue;
            }
            var configuration = template.Resolve(resource.Properties["NotificationConfiguration"], Lookup)!;
            foreach (var other in new[] { "LambdaConfigurations", "TopicConfigurations", "EventBridgeConfiguration" })
            {
                if (configuration[other] is not null)
                {
                    throw new TemplateException($"{resource.LogicalId}: the local environment delivers only QueueConfigurations, not {other}.");
                }
            }
            var i = 0;
            foreach (var queue in configuration["QueueConfigurations"]?.AsArray() ?? [])
            {
                var events = queue!["Event"]!.GetValue<string>();
                if (events != "s3:ObjectCreated:*")
                {
                    throw new TemplateException($"{resource.LogicalId}: the local environment delivers s3:ObjectCreated:* only, not {events}.");
                }
                var arn = queue["Queue"]!.GetValue<string>();
                var target = stack.Resources.Values.FirstOrDefault(r => r.Attributes.TryGetValue("Arn", out var a) && a == arn)
                    ?? throw new TemplateException($"{resource.LogicalId}: no local queue has the ARN {arn}.");
                var rules = queue["Filter"]?["S3Key"]?["Rules"]?.AsArray() ?? [];
                string Rule(string name) => rules
                    .FirstOrDefault(r => string.Equals(r?["Name"]?.GetValue<string>(), name, StringComparison.OrdinalIgnoreCase))?["Value"]?.GetValue<string>() ?? "";
                found.Add(new QueueNotification(stack[resource.LogicalId], target.Ref, $"{resource.LogicalId}-{i++}", Rule("prefix"), Rule("suffix")));
            }
        }
        return found;
    }
}
