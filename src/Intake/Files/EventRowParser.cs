using System.Globalization;
using System.Text.Json;
using FluentValidation;
using Microsoft.Extensions.Options;
using Pipeline.Events;

namespace Pipeline.Intake;

/// <summary>
/// A JSON Lines row of this API's own event shape, checked by the same validator and limits as POST /events, but the
/// import's own time window; CSV rows become the same <see cref="IncomingEvent"/> and are checked by it too.
/// </summary>
public sealed class EventRowParser(ImportContext import) : IRowParser
{
    private readonly IncomingEventValidator _validator = new(Options.Create(new EventLimits { MaxEventAge = import.MaxAge }), import.Clock);

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> IdentityPrefix => ReadOnlyMemory<byte>.Empty;

    /// <inheritdoc/>
    public ParsedRow Parse(ReadOnlySpan<byte> record)
    {
        IncomingEvent? row;
        try
        {
            // The same reading as the Api's (JSON of the web's defaults): a field of the wrong type is refused. One pass over
            // the bytes, the import's largest cost per row: a record that fails it is read again only to say why.
            row = JsonSerializer.Deserialize(record, IntakeJsonContext.Default.IncomingEvent);
        }
        catch (JsonException e)
        {
            using var document = JsonRows.Object(record, "an event");
            return ParsedRow.Refused(document is null ? JsonRows.Problem(record, "an event") : $"The line is not a valid event: {e.Message}");
        }
        return row is null ? ParsedRow.Refused("The line is JSON null.") : Check(row);
    }

    /// <summary>Checks <paramref name="row"/> as POST /events does and makes it the queued event.</summary>
    public ParsedRow Check(IncomingEvent row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var result = _validator.Validate(row);
        if (!result.IsValid)
        {
            return ParsedRow.Refused([.. result.Errors.Select(e => e.ErrorMessage)]);
        }
        return new ParsedRow(new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = row.EventId ?? "",
            EventType = row.EventType!,
            UserId = EventRules.NullIfBlank(row.UserId),
            AnonymousId = EventRules.NullIfBlank(row.AnonymousId),
            OccurredAt = row.OccurredAt is { } at
                ? DateTimeOffset.Parse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).ToUniversalTime()
                : import.ReceivedAt,
            ReceivedAt = import.ReceivedAt,
            RequestId = import.RequestId,
            Properties = row.Properties is { ValueKind: JsonValueKind.Object } p ? p : null,
        }, row.EventId, []);
    }
}

/// <summary>A JSON Lines record as a JSON object, or why it is not one.</summary>
internal static class JsonRows
{
    /// <summary>The record's document if it is a JSON object; else null (see <see cref="Problem"/>).</summary>
    public static JsonDocument? Object(ReadOnlySpan<byte> record, string what)
    {
        try
        {
            var reader = new Utf8JsonReader(record);
            if (!JsonDocument.TryParseValue(ref reader, out var document))
            {
                return null;
            }
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Why the record is not a JSON object.</summary>
    public static string Problem(ReadOnlySpan<byte> record, string what)
    {
        try
        {
            var reader = new Utf8JsonReader(record);
            if (!JsonDocument.TryParseValue(ref reader, out var document))
            {
                return "The line is not JSON.";
            }
            using (document)
            {
                return document.RootElement.ValueKind == JsonValueKind.Null
                    ? "The line is JSON null."
                    : $"The line is a JSON {document.RootElement.ValueKind}, not {what} object.";
            }
        }
        catch (JsonException e)
        {
            return $"The line is not JSON: {e.Message}";
        }
    }
}
