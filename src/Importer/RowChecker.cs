using System.Security.Cryptography;
using System.Text.Json;
using FluentValidation;
using Microsoft.Extensions.Options;
using Pipeline.Events;
using Pipeline.Intake;

namespace Pipeline.Importer;

/// <summary>
/// Checks a row with the same validator and limits as POST /events (src/Intake), but the import's own time window
/// (<see cref="ImporterOptions.MaxAge"/>), and turns an accepted row into the queued event the Processor stores.
/// </summary>
public sealed class RowChecker(TimeSpan maxAge, TimeProvider clock)
{
    private readonly IncomingEventValidator _validator = new(Options.Create(new EventLimits { MaxEventAge = maxAge }), clock);

    /// <summary>A row's fields, or the reasons it is refused.</summary>
    public (IncomingEvent? Row, IReadOnlyList<string> Problems) Check(ReadOnlySpan<byte> line)
    {
        JsonDocument? document;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!JsonDocument.TryParseValue(ref reader, out document))
            {
                return (null, ["The line is not JSON."]);
            }
        }
        catch (JsonException e)
        {
            return (null, [$"The line is not JSON: {e.Message}"]);
        }
        IncomingEvent? row;
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, [$"The line is a JSON {document.RootElement.ValueKind}, not an event object."]);
            }
            try
            {
                // The same reading as the Api's (JSON of the web's defaults): a field of the wrong type is refused.
                row = document.RootElement.Deserialize(ImportJsonContext.Default.IncomingEvent);
            }
            catch (JsonException e)
            {
                return (null, [$"The line is not a valid event: {e.Message}"]);
            }
        }
        if (row is null)
        {
            return (null, ["The line is JSON null."]);
        }
        var result = _validator.Validate(row);
        return result.IsValid ? (row, []) : (null, [.. result.Errors.Select(e => e.ErrorMessage)]);
    }

    /// <summary>
    /// The derived id of a row without its own <c>eventId</c>: its bytes' SHA-256 and its occurrence among identical rows
    /// of the file, so the same row re-imported (in this file or another) gets the same id and is stored once, and a row
    /// repeated within one file is kept as often as it appears.
    /// </summary>
    public static string DerivedId(ReadOnlySpan<byte> line, int occurrence) =>
        $"import:{Convert.ToHexStringLower(SHA256.HashData(line))[..40]}:{occurrence}";

    /// <summary>The key under which a row's occurrences are counted within a file.</summary>
    public static UInt128 OccurrenceKey(ReadOnlySpan<byte> line, string? ownId)
    {
        Span<byte> hash = stackalloc byte[32];
        if (ownId is null)
        {
            SHA256.HashData(line, hash);
        }
        else
        {
            SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("id\n" + ownId), hash);
        }
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    /// <summary>The queued event of an accepted row.</summary>
    public static QueuedEvent Queued(IncomingEvent row, string eventId, DateTimeOffset receivedAt, string requestId, ImportJob job, long line) => new()
    {
        SchemaVersion = QueuedEvent.CurrentSchemaVersion,
        EventId = eventId,
        EventType = row.EventType!,
        UserId = EventRules.NullIfBlank(row.UserId),
        AnonymousId = EventRules.NullIfBlank(row.AnonymousId),
        OccurredAt = row.OccurredAt is { } at
            ? DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind).ToUniversalTime()
            : receivedAt,
        ReceivedAt = receivedAt,
        RequestId = requestId,
        Properties = row.Properties is { ValueKind: JsonValueKind.Object } p ? p : null,
        ImportFile = job.File,
        ImportLine = line,
    };
}
