using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Pipeline.Intake;

/// <summary>
/// A line of a Segment archive (a Segment message as Segment's or RudderStack's S3 destination writes it), checked by
/// <c>/v1</c>'s validator and mapped as <c>/v1</c> maps it, but for its time (the file's own) and its limits (the
/// import's): docs/import.md, "Segment messages". A message with a <c>messageId</c> gets <c>/v1</c>'s id under the
/// write key the file is imported under (<paramref name="keyHash"/>).
/// </summary>
public sealed class SegmentRowParser(ImportContext import, string keyHash) : IRowParser
{
    private readonly SegmentMessageValidator _validator = new(Options.Create(new EventLimits { MaxEventAge = import.MaxAge }), import.Clock, imported: true);

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> IdentityPrefix => ReadOnlyMemory<byte>.Empty;

    /// <inheritdoc/>
    public ParsedRow Parse(ReadOnlySpan<byte> record)
    {
        if (JsonRows.Object(record, "a Segment message") is not { } document)
        {
            return ParsedRow.Refused(JsonRows.Problem(record, "a Segment message"));
        }
        SegmentMessage message;
        using (document)
        {
            try
            {
                message = document.RootElement.Deserialize(IntakeJsonContext.Default.SegmentMessage)!;
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
            {
                return ParsedRow.Refused($"The line is not a valid Segment message: {e.Message}");
            }
        }
        var result = _validator.Validate(message);
        if (!result.IsValid)
        {
            return ParsedRow.Refused([.. result.Errors.Select(e => e.ErrorMessage)]);
        }
        var ownId = message.MessageId is { } id ? SegmentEvents.EventId(keyHash, id) : null;
        var queued = SegmentEvents.Map(message, ownId ?? "", SegmentTime.Recorded(message, import.ReceivedAt), import.ReceivedAt, import.RequestId,
            SegmentEvents.ObjectOrNull(message.Context), SegmentEvents.ObjectOrNull(message.Integrations));
        return new ParsedRow(queued, ownId, []);
    }
}
