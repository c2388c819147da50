using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Pipeline.ApiKeys;

/// <summary>An API key as stored: never the key itself, only its SHA-256 hash (docs/architecture.md, D12).</summary>
/// <param name="KeyId">A short, non-secret handle for listing and revoking (the hash's first 12 hex digits).</param>
/// <param name="Name">Who or what the key is for.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
public sealed record ApiKeyRecord(string KeyId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>True while the key is not revoked.</summary>
    public bool IsActive => RevokedAt is null;
}

/// <summary>Creates, finds, lists and revokes API keys in the API-keys table.</summary>
public sealed class ApiKeyRegistry(IAmazonDynamoDB dynamoDb, string tableName, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private const string KeyPrefix = "pk_";

    /// <summary>The fewest characters a key may have.</summary>
    public const int MinimumKeyLength = 16;

    /// <summary>The SHA-256 hash (lowercase hex) the table is keyed by.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Creates a new random key; the returned key is shown once and never stored.</summary>
    public async Task<(string Key, ApiKeyRecord Record)> CreateAsync(string name, CancellationToken cancellationToken)
    {
        var key = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        return (key, await RegisterAsync(key, name, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Registers a key chosen by the caller (a local run's PIPELINE_API_KEY). Idempotent for an active key.</summary>
    /// <exception cref="InvalidOperationException">The key was registered before and has been revoked: it cannot come back.</exception>
    public async Task<ApiKeyRecord> RegisterAsync(string key, string name, CancellationToken cancellationToken)
    {
        if (key.Length < MinimumKeyLength)
        {
            throw new ArgumentException($"An API key must have at least {MinimumKeyLength} characters.", nameof(key));
        }
        var hash = Hash(key);
        var record = new ApiKeyRecord(hash[..12], name, _time.GetUtcNow(), null);
        try
        {
            await dynamoDb.PutItemAsync(new PutItemRequest
            {
                TableName = tableName,
                Item = new Dictionary<string, AttributeValue>
                {
                    ["keyHash"] = new() { S = hash },
                    ["keyId"] = new() { S = record.KeyId },
                    ["name"] = new() { S = name },
                    ["createdAt"] = new() { S = record.CreatedAt.ToString("O", CultureInfo.InvariantCulture) },
                },
                ConditionExpression = "attribute_not_exists(keyHash)",
            }, cancellationToken).ConfigureAwait(false);
            return record;
        }
        catch (ConditionalCheckFailedException)
        {
            var existing = await FindAsync(key, cancellationToken).ConfigureAwait(false) ?? record;
            return existing.IsActive
                ? existing
                : throw new InvalidOperationException(
                    $"The API key {existing.KeyId} was revoked on {existing.RevokedAt:u}; a revoked key cannot be registered again. Choose another key.");
        }
    }

    /// <summary>Finds a key by its value; null if unknown.</summary>
    public async Task<ApiKeyRecord?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var response = await dynamoDb.GetItemAsync(new GetItemRequest
        {
            TableName = tableName,
            Key = new Dictionary<string, AttributeValue> { ["keyHash"] = new() { S = Hash(key) } },
            ConsistentRead = true,
        }, cancellationToken).ConfigureAwait(false);
        return response.IsItemSet ? ToRecord(response.Item) : null;
    }

    /// <summary>
    /// The hash of the key whose id is <paramref name="keyId"/>, revoked or not (a Segment file is imported under the key
    /// its messages were sent with: docs/import.md); null if no key, or more than one, has that id.
    /// </summary>
    public async Task<string?> HashOfIdAsync(string keyId, CancellationToken cancellationToken)
    {
        var hashes = (await ScanAsync(cancellationToken).ConfigureAwait(false)).Where(i => i["keyId"].S == keyId).Select(i => i["keyHash"].S).ToList();
        return hashes.Count == 1 ? hashes[0] : null;
    }

    /// <summary>Lists every key, oldest first.</summary>
    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await ScanAsync(cancellationToken).ConfigureAwait(false)).Select(ToRecord).OrderBy(r => r.CreatedAt)];

    /// <summary>Revokes the key whose id is <paramref name="keyId"/>; false if there is none.</summary>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken)
    {
        var items = (await ScanAsync(cancellationToken).ConfigureAwait(false)).Where(i => i["keyId"].S == keyId).ToList();
        var revoked = 0;
        foreach (var item in items)
        {
            try
            {
                await dynamoDb.UpdateItemAsync(new UpdateItemRequest
                {
                    TableName = tableName,
                    Key = new Dictionary<string, AttributeValue> { ["keyHash"] = item["keyHash"] },
                    UpdateExpression = "SET revokedAt = if_not_exists(revokedAt, :now)",
                    // An update creates the item if it is missing: a key deleted meanwhile must not come back as a stub.
                    ConditionExpression = "attribute_exists(keyHash)",
                    ExpressionAttributeValues = new Dictionary<string, AttributeValue> { [":now"] = new() { S = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture) } },
                }, cancellationToken).ConfigureAwait(false);
                revoked++;
            }
            catch (ConditionalCheckFailedException)
            {
                // Deleted since the scan: nothing left to revoke.
            }
        }
        return revoked > 0;
    }

    // A Scan is right here: the table holds a handful of keys, and listing is an operator's command.
    private async Task<List<Dictionary<string, AttributeValue>>> ScanAsync(CancellationToken cancellationToken)
    {
        var items = new List<Dictionary<string, AttributeValue>>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var request = new ScanRequest { TableName = tableName, ExclusiveStartKey = start, ConsistentRead = true };
            var page = await dynamoDb.ScanAsync(request, cancellationToken).ConfigureAwait(false);
            items.AddRange(page.Items);
            start = page.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (start is not null);
        return items;
    }

    private static ApiKeyRecord ToRecord(Dictionary<string, AttributeValue> item) => new(
        item["keyId"].S,
        item.TryGetValue("name", out var name) ? name.S : "",
        DateTimeOffset.Parse(item["createdAt"].S, CultureInfo.InvariantCulture),
        item.TryGetValue("revokedAt", out var revoked) ? DateTimeOffset.Parse(revoked.S, CultureInfo.InvariantCulture) : null);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
