using System.Buffers;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Pipeline.Api.Events;
using Pipeline.Api.Hosting;

namespace Pipeline.Api.Segment;

/// <summary>Marks an endpoint as a Segment call: its <see cref="Type"/>, or null for a batch.</summary>
/// <param name="Type">The call the path stands for, or null for <c>/v1/batch</c>.</param>
public sealed record SegmentCall(string? Type);

/// <summary>
/// The body of a Segment call or batch. It is read whatever the Content-Type says, because Segment's clients send
/// JSON as <c>text/plain</c> (a browser's <c>sendBeacon</c> and analytics.js) or with none, and Segment's API takes them
/// all; a minimal API's JSON body binding would answer those 415. Gzip bodies are already inflated by the
/// request-decompression middleware; reading stops one byte past the limit, so a small gzip body cannot inflate past it.
/// </summary>
public sealed class SegmentRequest : ApiKeys.IBodyApiKey
{
    /// <summary>Most calls in one batch (Segment's libraries send at most a few dozen).</summary>
    public const int MaxBatchCalls = 1000;

    /// <summary>The calls, in order (one for a single call). Items that could not be read are null, with an entry in <see cref="Errors"/>.</summary>
    public IReadOnlyList<SegmentMessage?> Messages { get; private init; } = [];

    /// <summary>The batch's envelope (null for a single call).</summary>
    public SegmentBatch? Envelope { get; private init; }

    /// <summary>Why the body as a whole cannot be read (a 400), or null.</summary>
    public string? Problem { get; private init; }

    /// <summary>Errors found while reading, by field (<c>batch[3]</c>...).</summary>
    public Dictionary<string, string[]> Errors { get; } = [];

    /// <summary>The write key sent in the body (a single call's, else the batch's), if any.</summary>
    public string? WriteKey => Envelope?.WriteKey ?? (Messages is [{ WriteKey: { } key }] ? key : null);

    /// <summary>Reads the body for the endpoint's <see cref="SegmentCall"/> (minimal API binding).</summary>
    public static async ValueTask<SegmentRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(context);
        var call = context.GetEndpoint()?.Metadata.GetMetadata<SegmentCall>()
            ?? throw new InvalidOperationException("A SegmentRequest endpoint needs SegmentCall metadata.");
        var limits = context.RequestServices.GetRequiredService<IOptions<EventLimits>>().Value;
        var limit = call.Type is null ? limits.MaxBatchBytes : limits.MaxEventBytes;
        var what = call.Type is null ? "batch" : "call";
        var tooLarge = new SegmentRequest { Problem = $"The {what} is larger than {limit} bytes (Segment's limits: 32 KB a call, 500 KB a batch)." };
        if (context.Request.ContentLength > limit)
        {
            return tooLarge;
        }
        byte[] body;
        try
        {
            body = await ReadAsync(context.Request.Body, limit, context.RequestAborted);
        }
        catch (InvalidDataException e)
        {
            return new SegmentRequest { Problem = $"The body cannot be decompressed: {e.Message}" };
        }
        if (body.Length > limit)
        {
            return tooLarge;
        }
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new SegmentRequest { Problem = $"The body is a JSON {document.RootElement.ValueKind}; it must be an object." };
            }
            return call.Type is null ? ReadBatch(document.RootElement, limits.MaxEventBytes) : ReadCall(document.RootElement);
        }
        catch (JsonException e)
        {
            return new SegmentRequest { Problem = $"The body is not valid JSON: {e.Message}" };
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            return new SegmentRequest { Problem = $"The body cannot be read: {e.Message}" };
        }
    }

    private static SegmentRequest ReadCall(JsonElement root)
    {
        try
        {
            return new SegmentRequest { Messages = [root.Deserialize(ApiJsonContext.Default.SegmentMessage)] };
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            return new SegmentRequest { Problem = $"The call cannot be read: {e.Message}" };
        }
    }

    // A field of the wrong JSON type; or text JSON allows but .NET strings and dictionaries refuse (an unpaired surrogate).
    private static bool IsUnreadable(Exception e) => e is JsonException or InvalidOperationException or ArgumentException;

    private static SegmentRequest ReadBatch(JsonElement root, int maxCallBytes)
    {
        var envelope = root.Deserialize(ApiJsonContext.Default.SegmentBatch)!;
        if (envelope.Batch is not { Count: > 0 } items)
        {
            return new SegmentRequest { Envelope = envelope, Problem = "'batch' is required: a non-empty array of calls, each with its 'type'." };
        }
        if (items.Count > MaxBatchCalls)
        {
            return new SegmentRequest { Envelope = envelope, Problem = $"'batch' may hold at most {MaxBatchCalls} calls." };
        }
        var messages = new SegmentMessage?[items.Count];
        var request = new SegmentRequest { Envelope = envelope, Messages = messages };
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.ValueKind != JsonValueKind.Object)
            {
                request.Errors[$"batch[{i}]"] = [$"The item is a JSON {item.ValueKind}; each must be a call object."];
            }
            else if (System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(item).Length > maxCallBytes)
            {
                request.Errors[$"batch[{i}]"] = [$"The call is larger than {maxCallBytes} bytes."];
            }
            else
            {
                try
                {
                    messages[i] = item.Deserialize(ApiJsonContext.Default.SegmentMessage);
                }
                catch (Exception e) when (IsUnreadable(e))
                {
                    request.Errors[$"batch[{i}]"] = [$"The call cannot be read: {e.Message}"];
                }
            }
        }
        return request;
    }

    private static async Task<byte[]> ReadAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while (copy.Length <= limit && (read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                copy.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return copy.ToArray();
    }
}
