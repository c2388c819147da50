using System.Globalization;
using System.IO.Compression;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Pipeline.Api.Plans;

/// <summary>A plan as stored: its version (1, 2, ... as it is set), its document, and when it was set.</summary>
/// <param name="Version">Set by the store, one more than the plan it replaced.</param>
/// <param name="Document">The plan's JSON, as it was set.</param>
/// <param name="SetAt">When it was set.</param>
public sealed record StoredPlan(int Version, string Document, DateTimeOffset SetAt);

/// <summary>
/// The deployment's tracking plan, in the tracking-plans table (one item, <c>plan</c> = "current"): changed without a
/// deploy, read by the Api every <see cref="Hosting.PlanOptions.RefreshSeconds"/>. The document is stored gzipped, so a
/// plan of a few MB of JSON fits DynamoDB's 400 KB item; a plan that does not is refused when it is set.
/// </summary>
public sealed class TrackingPlanStore(IAmazonDynamoDB dynamoDb, string tableName, TimeProvider? time = null)
{
    /// <summary>Largest plan document, in bytes of JSON.</summary>
    public const int MaxDocumentBytes = 4 * 1024 * 1024;

    /// <summary>Largest plan once gzipped: DynamoDB's 400 KB item, less room for the other attributes.</summary>
    public const int MaxStoredBytes = 390 * 1024;

    private const string Current = "current";

    /// <summary>The current plan, or null if none was ever set.</summary>
    public async Task<StoredPlan?> GetAsync(CancellationToken cancellationToken)
    {
        var item = (await dynamoDb.GetItemAsync(new GetItemRequest { TableName = tableName, Key = Key(), ConsistentRead = true }, cancellationToken).ConfigureAwait(false)).Item;
        if (item is not { Count: > 0 })
        {
            return null;
        }
        using var gzip = new GZipStream(item["document"].B, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return new StoredPlan(int.Parse(item["version"].N, CultureInfo.InvariantCulture), await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false),
            DateTimeOffset.Parse(item["setAt"].S, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));
    }

    /// <summary>Checks <paramref name="document"/> and makes it the current plan, one version after the one it replaces.</summary>
    /// <exception cref="PlanException">The plan cannot be used, or is too large; nothing changed.</exception>
    public async Task<StoredPlan> SetAsync(string document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        var bytes = Encoding.UTF8.GetBytes(document);
        if (bytes.Length > MaxDocumentBytes)
        {
            throw new PlanException("$", $"the plan is {bytes.Length} bytes; at most {MaxDocumentBytes} bytes of JSON");
        }
        TrackingPlan.Parse(document);
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(bytes);
        }
        if (compressed.Length > MaxStoredBytes)
        {
            throw new PlanException("$", $"the plan is {compressed.Length} bytes gzipped; at most {MaxStoredBytes} (DynamoDB's item limit)");
        }
        var previous = await GetAsync(cancellationToken).ConfigureAwait(false);
        var plan = new StoredPlan((previous?.Version ?? 0) + 1, document, (time ?? TimeProvider.System).GetUtcNow());
        var item = Key();
        item["version"] = new() { N = plan.Version.ToString(CultureInfo.InvariantCulture) };
        item["document"] = new() { B = new MemoryStream(compressed.ToArray()) };
        item["setAt"] = new() { S = plan.SetAt.ToString("O", CultureInfo.InvariantCulture) };
        try
        {
            // Conditional: two plans set at once cannot both become the same version.
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = item,
                ConditionExpression = previous is null ? "attribute_not_exists(#plan)" : "#version = :previous",
                ExpressionAttributeNames = previous is null ? new() { ["#plan"] = "plan" } : new() { ["#version"] = "version" },
                ExpressionAttributeValues = previous is null ? null : new() { [":previous"] = new() { N = previous.Version.ToString(CultureInfo.InvariantCulture) } },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            throw new InvalidOperationException("Another plan was set at the same time; show the current plan and set yours again.");
        }
        return plan;
    }

    private static Dictionary<string, AttributeValue> Key() => new() { ["plan"] = new() { S = Current } };
}
