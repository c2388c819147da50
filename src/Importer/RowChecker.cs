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
        IncomingEvent? row;
        try
        {
            // The same reading as the Api's (JSON of the web's defaults): a field of the wrong type is refused. One pass over
            // the bytes: a line that fails it is read again only to say why.
            row = JsonSerializer.Deserialize(line, ImportJsonContext.Default.IncomingEvent);
        }
        catch (JsonException e)
        {
            return (null, [Refusal(line, e)]);
        }
        if (row is null)
        {
            return (null, ["The line is JSON null."]);
        }
        var result = _validator.Validate(row);
        return result.IsValid ? (row, []) : (null, [.. result.Errors.Select(e => e.ErrorMessage)]);
    }

    // Why a line the serializer refused is refused: not JSON, JSON but not an object, or an object that is not an event.
    private static string Refusal(ReadOnlySpan<byte> line, JsonException refusal)
    {
        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? $"The line is not a valid event: {refusal.Message}"
                : $"The line is a JSON {document.RootElement.ValueKind}, not an event object.";
        }
        catch (JsonException e)
        {
            return $"The line is not JSON: {e.Message}";
        }
    }

    /// <summary>
    /// How a row is known within its file and across files: the key under which its occurrences are counted (its own
    /// <c>eventId</c>, or its bytes), and for a row without its own id, the stem of its derived id (see <see cref="DerivedId"/>).
    /// Both come from one SHA-256 of the line.
    /// </summary>
    public static RowIdentity Identify(ReadOnlySpan<byte> line, string? ownId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(ownId is null ? line : System.Text.Encoding.UTF8.GetBytes("id\n" + ownId), hash);
        return new RowIdentity(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash), ownId is null ? Convert.ToHexStringLower(hash[..20]) : null);
    }

    /// <summary>
    /// The derived id of a row without its own <c>eventId</c>: its bytes' SHA-256 and its occurrence among identical rows
    /// of the file, so the same row re-imported (in this file or another) gets the same id and is stored once, and a row
    /// repeated within one file is kept as often as it appears.
    /// </summary>
    public static string DerivedId(RowIdentity identity, int occurrence) =>
        identity.Stem is { } stem ? $"import:{stem}:{occurrence}" : throw new ArgumentException("A row with its own eventId has no derived id.", nameof(identity));

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

/// <summary>A row's occurrence key, and the stem of its derived id if it has no id of its own (<see cref="RowChecker.Identify"/>).</summary>
public readonly record struct RowIdentity(UInt128 Key, string? Stem);
