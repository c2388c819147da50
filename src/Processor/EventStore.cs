using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.Events;
using Pipeline.Faults;
using Pipeline.Storage;

namespace Pipeline.Processor;

/// <summary>What became of a write.</summary>
public enum StoreOutcome
{
    /// <summary>The event is now stored.</summary>
    Stored,

    /// <summary>An event with this id was already stored; nothing was written.</summary>
    Duplicate,

    /// <summary>It could not be written in time; SQS should redeliver it.</summary>
    Failed,

    /// <summary>DynamoDB refused the item itself (a validation error): a rejection, never a retry.</summary>
    Refused,
}

/// <summary>What became of a write, and why, if DynamoDB refused it.</summary>
/// <param name="Outcome">The outcome.</param>
/// <param name="Reason">For <see cref="StoreOutcome.Refused"/>: DynamoDB's error code and message.</param>
/// <param name="SameCopy">
/// For <see cref="StoreOutcome.Duplicate"/>: the stored item is this very copy (a redelivery, with the same receive time),
/// not an earlier copy of the event that a client sent again.
/// </param>
/// <param name="Throttled">DynamoDB throttled the write at least once (the table's capacity was exhausted).</param>
/// <param name="Faulted">
/// For <see cref="StoreOutcome.Failed"/>: the last answer before the time ran out was a fault (a server error, a network
/// failure), not throttling: DynamoDB failing, which the message's receive count must see (D21), not the table's capacity.
/// </param>
public readonly record struct StoreResult(StoreOutcome Outcome, string? Reason = null, bool SameCopy = false, bool Throttled = false, bool Faulted = false);

/// <summary>Writes events to the events table, each at most once (a put conditional on the id not existing).</summary>
public sealed class EventStore(IAmazonDynamoDB dynamoDb, string tableName, TimeSpan retention)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>Writes one event, retrying transient errors with backoff until <paramref name="cancellationToken"/> (the time budget) ends.</summary>
    public async Task<StoreResult> PutAsync(QueuedEvent queued, CancellationToken cancellationToken)
    {
        var request = new PutItemRequest
        {
            TableName = tableName,
            Item = ToItem(queued, retention),
            ConditionExpression = "attribute_not_exists(eventId)",
            // The stored item comes back with a failed condition (at no extra cost): it tells a redelivery from a resend.
            ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure.ALL_OLD,
        };
        var backoff = FirstBackoff;
        var throttled = false;
        var faulted = false;
        while (true)
        {
            try
            {
                await dynamoDb.PutItemAsync(request, cancellationToken).ConfigureAwait(false);
                return new(StoreOutcome.Stored, Throttled: throttled);
            }
            catch (ConditionalCheckFailedException e)
            {
                // The same enqueued copy (the same receive time) delivered again, or a client's resend accepted anew. An
                // emulator that does not return the item is taken as the same copy: archiving twice is safe, never missing.
                var sameCopy = e.Item is not { Count: > 0 } stored
                    || (stored.TryGetValue("receivedAt", out var at) && at.S == request.Item["receivedAt"].S);
                return new(StoreOutcome.Duplicate, SameCopy: sameCopy, Throttled: throttled);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return new(StoreOutcome.Failed, Throttled: throttled, Faulted: faulted);
            }
            catch (AmazonDynamoDBException e) when (e.ErrorCode == "ValidationException")
            {
                return new(StoreOutcome.Refused, $"DynamoDB refused the item: {e.ErrorCode}: {e.Message}");
            }
            catch (AmazonDynamoDBException e) when (!AwsFaults.IsTransient(e, cancellationToken))
            {
                // Access denied, a missing table...: the deployment's fault, not the event's. Retried, and in the end
                // kept in the dead-letter queue for a redrive once it is fixed.
                return new(StoreOutcome.Failed, $"{e.ErrorCode}: {e.Message}");
            }
            catch (Exception e) when (AwsFaults.IsTransient(e, cancellationToken))
            {
                var throttling = AwsFaults.IsThrottling(e);
                throttled |= throttling;
                faulted = !throttling;
                try
                {
                    await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return new(StoreOutcome.Failed, Throttled: throttled, Faulted: faulted);
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>The stored shape: plain attribute names, properties as a map, and the TTL (see the README).</summary>
    public static Dictionary<string, AttributeValue> ToItem(QueuedEvent queued, TimeSpan retention)
    {
        ArgumentNullException.ThrowIfNull(queued);
        var item = new Dictionary<string, AttributeValue>
        {
            ["eventId"] = new() { S = queued.EventId },
            ["eventType"] = new() { S = queued.EventType },
            ["occurredAt"] = new() { S = EventLayout.FormatTime(queued.OccurredAt) },
            ["receivedAt"] = new() { S = EventLayout.FormatTime(queued.ReceivedAt) },
            ["requestId"] = new() { S = queued.RequestId },
            ["schemaVersion"] = new() { N = queued.SchemaVersion.ToString(CultureInfo.InvariantCulture) },
            ["expiresAt"] = new() { N = queued.ReceivedAt.Add(retention).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) },
        };
        (string Name, string? Value)[] optional =
        [
            ("userId", queued.UserId), ("anonymousId", queued.AnonymousId), ("sourceIp", queued.SourceIp), ("userAgent", queued.UserAgent),
            ("type", queued.Type), ("messageId", queued.MessageId), ("name", queued.Name), ("category", queued.Category), ("groupId", queued.GroupId),
            ("previousId", queued.PreviousId), ("timestamp", queued.Timestamp), ("originalTimestamp", queued.OriginalTimestamp), ("sentAt", queued.SentAt),
            ("importFile", queued.ImportFile),
        ];
        foreach (var (name, value) in optional)
        {
            Optional(item, name, value);
        }
        if (queued.ImportLine is { } line)
        {
            item["importLine"] = new() { N = line.ToString(CultureInfo.InvariantCulture) };
        }
        foreach (var (name, value) in queued.Objects())
        {
            item[name] = ToAttribute(value);
        }
        if (queued.Plan is { } plan)
        {
            item["plan"] = Plan(plan);
        }
        return item;
    }

    // The tracking plan's verdict, as a map: status, version, how many rules broken, and the first of them.
    private static AttributeValue Plan(PlanCheck plan)
    {
        var map = new Dictionary<string, AttributeValue>
        {
            ["status"] = new() { S = plan.Status },
            ["violationCount"] = new() { N = plan.ViolationCount.ToString(CultureInfo.InvariantCulture) },
        };
        if (plan.Version is { } version)
        {
            map["version"] = new() { N = version.ToString(CultureInfo.InvariantCulture) };
        }
        if (plan.Violations is { Count: > 0 } violations)
        {
            map["violations"] = new()
            {
                L = [.. violations.Select(v => new AttributeValue { M = new() { ["path"] = new() { S = v.Path }, ["message"] = new() { S = v.Message } } })],
            };
        }
        return new AttributeValue { M = map };
    }

    private static void Optional(Dictionary<string, AttributeValue> item, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            item[name] = new AttributeValue { S = value };
        }
    }

    private static AttributeValue ToAttribute(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new AttributeValue { M = value.EnumerateObject().GroupBy(p => p.Name).ToDictionary(g => g.Key, g => ToAttribute(g.Last().Value)) },
        JsonValueKind.Array => new AttributeValue { L = [.. value.EnumerateArray().Select(ToAttribute)] },
        JsonValueKind.String => new AttributeValue { S = value.GetString() },
        JsonValueKind.Number => new AttributeValue { N = value.GetRawText() },
        JsonValueKind.True or JsonValueKind.False => new AttributeValue { BOOL = value.GetBoolean() },
        _ => new AttributeValue { NULL = true },
    };
}
