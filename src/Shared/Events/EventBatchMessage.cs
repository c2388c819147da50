using System.Text;
using System.Text.Json;

namespace Pipeline.Events;

/// <summary>
/// A message that carries several queued events: <c>{"schemaVersion": 3, "events": [ ... ]}</c>. The Api sends a batch
/// request's events so on the events queue. A message of one event may stay the event itself. Batch messages came with schema
/// version 3 (<see cref="QueuedEvent.CurrentSchemaVersion"/>), so a Processor that predates them retries one instead of
/// rejecting it.
/// </summary>
public static class EventBatchMessage
{
    /// <summary>The first schema version with batch messages.</summary>
    public const int SchemaVersion = 3;

    /// <summary>
    /// The largest message, in bytes: 64 KB, the payload SQS bills as one request, less room for the envelope. An event
    /// larger than that (the Api's limit is 32 KB, plus what it adds) travels alone, well under SQS's 256 KiB.
    /// </summary>
    public const int MaxMessageBytes = (64 * 1024) - 512;

    /// <summary>
    /// Most events in one message: ten messages, a Processor's batch, then hold at most 1,000 events, which it writes well
    /// within its 30 s (about 3 s against DynamoDB Local here), however small the events; a provisioned table at a low
    /// capacity may not take them in time, and what is left goes back to the queue (docs/architecture.md, D21).
    /// </summary>
    public const int MaxEvents = 100;

    private const string Open = "{\"schemaVersion\":3,\"events\":[";
    private const string Close = "]}";

    /// <summary>
    /// Packs events (each a queued event's JSON text) into as few messages of at most <see cref="MaxMessageBytes"/> and
    /// <see cref="MaxEvents"/> as they fit, in order.
    /// </summary>
    public static IEnumerable<string> Pack(IEnumerable<string> events) => PackRanges(events).Select(r => r.Body);

    /// <summary>As <see cref="Pack"/>, with the number of events in each message.</summary>
    public static IEnumerable<(string Body, int Count)> PackRanges(IEnumerable<string> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var body = new StringBuilder();
        var bytes = 0;
        var count = 0;
        foreach (var json in events)
        {
            var size = Encoding.UTF8.GetByteCount(json) + 1;
            if (count > 0 && (bytes + size > MaxMessageBytes || count == MaxEvents))
            {
                yield return (body.Append(Close).ToString(), count);
                body.Clear();
                count = 0;
            }
            if (count == 0)
            {
                body.Append(Open);
                bytes = Open.Length + Close.Length;
            }
            else
            {
                body.Append(',');
            }
            body.Append(json);
            bytes += size;
            count++;
        }
        if (count > 0)
        {
            yield return (body.Append(Close).ToString(), count);
        }
    }

    /// <summary>The events of a message, if it is a batch message of a version this code knows; false for anything else.</summary>
    public static bool TryRead(JsonElement root, out JsonElement events)
    {
        events = default;
        return root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("schemaVersion", out var version) && version.ValueKind == JsonValueKind.Number
            && version.TryGetInt32(out var number) && number is >= SchemaVersion and <= QueuedEvent.CurrentSchemaVersion
            && root.TryGetProperty("events", out events) && events.ValueKind == JsonValueKind.Array;
    }
}
