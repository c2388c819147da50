using System.Globalization;
using System.IO.Compression;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Pipeline.Plans;

/// <summary>A plan as stored: its version (1, 2, ... as it is set), its document, and when it was set.</summary>
/// <param name="Version">Set by the store, one more than the plan it replaced.</param>
/// <param name="Document">The plan's JSON, as it was set.</param>
/// <param name="SetAt">When it was set.</param>
public sealed record StoredPlan(int Version, string Document, DateTimeOffset SetAt);

/// <summary>
/// The deployment's tracking plan, in the tracking-plans table (one item, <c>plan</c> = "current"): changed without a
/// deploy, read by the Api every <c>Plans__RefreshSeconds</c> (30 s). The document is stored gzipped, so a
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
    /// <exception cref="InvalidDataException">The stored item is damaged: an attribute missing or malformed, the document not gzip or too large.</exception>
    public async Task<StoredPlan?> GetAsync(CancellationToken cancellationToken)
    {
        var item = (await dynamoDb.GetItemAsync(new GetItemRequest { TableName = tableName, Key = Key(), ConsistentRead = true }, cancellationToken).ConfigureAwait(false)).Item;
        if (item is not { Count: > 0 })
        {
            return null;
        }
        var version = int.TryParse(Attribute(item, "version").N, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : throw Damaged("version", "not a whole number above 0");
        var setAt = DateTimeOffset.TryParse(Attribute(item, "setAt").S, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
            ? at : throw Damaged("setAt", "not a date and time");
        var compressed = Attribute(item, "document").B ?? throw Damaged("document", "not binary");
        return new StoredPlan(version, await DecompressAsync(compressed, cancellationToken).ConfigureAwait(false), setAt);
    }

    // The document, read at most MaxDocumentBytes: a damaged or hostile item cannot make the Api inflate gigabytes.
    private static async Task<string> DecompressAsync(MemoryStream compressed, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxDocumentBytes + 1];
        var length = 0;
        try
        {
            using var gzip = new GZipStream(compressed, CompressionMode.Decompress);
            int read;
            while (length < buffer.Length && (read = await gzip.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (InvalidDataException e)
        {
            throw Damaged("document", $"not gzip ({e.Message})");
        }
        if (length > MaxDocumentBytes)
        {
            throw Damaged("document", $"more than {MaxDocumentBytes} bytes of JSON once unzipped");
        }
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            throw Damaged("document", "not UTF-8 once unzipped");
        }
    }

    private static AttributeValue Attribute(Dictionary<string, AttributeValue> item, string name) =>
        item.TryGetValue(name, out var value) && value is not null ? value : throw Damaged(name, "missing");

    private static InvalidDataException Damaged(string attribute, string problem) =>
        new($"The stored tracking plan is damaged: its '{attribute}' attribute is {problem}. Set the plan again (plan set).");

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
