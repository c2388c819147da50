using System.Security.Cryptography;
using System.Text;
using Pipeline.Events;
using Pipeline.Plans;

namespace Pipeline.Intake;

/// <summary>What became of one record.</summary>
public enum RowKind
{
    /// <summary>A blank line, skipped.</summary>
    Blank,

    /// <summary>Refused: the reasons say why.</summary>
    Refused,

    /// <summary>Its own id was an earlier row's of the file: not sent again.</summary>
    Duplicate,

    /// <summary>Accepted: the event goes to the queue.</summary>
    Accepted,
}

/// <summary>The outcome of one record: its kind, and the reasons it was refused or the event it became.</summary>
/// <param name="Kind">What became of it.</param>
/// <param name="Reasons">Why it was refused (empty otherwise).</param>
/// <param name="Event">The queued event of an accepted row, with its id, file, line and plan check.</param>
public readonly record struct RowOutcome(RowKind Kind, IReadOnlyList<string> Reasons, QueuedEvent? Event);

/// <summary>
/// What a record becomes, the same for an import and its dry run: read by the file's parser, checked by the tracking plan
/// (a blocked row is refused with its violations, a flagged one kept flagged, as for POST /events), and given its id: its
/// own, or derived from its bytes and its occurrence among identical rows of the file (docs/import.md, "Exactly once").
/// </summary>
public sealed class RowChecker(IRowParser parser, PlanState plan, string file)
{
    private byte[] _identity = [];

    /// <summary>The outcome of <paramref name="record"/>; an accepted or duplicate row is counted in <paramref name="seen"/>.</summary>
    public RowOutcome Check(in Record record, Dictionary<RowKey, int> seen)
    {
        ArgumentNullException.ThrowIfNull(seen);
        if (record.Problem is { } problem)
        {
            return new RowOutcome(RowKind.Refused, [problem], null);
        }
        var bytes = record.Bytes.Span;
        if (bytes.Trim(" \t"u8).IsEmpty)
        {
            return new RowOutcome(RowKind.Blank, [], null);
        }
        var (parsed, ownId, problems) = parser.Parse(bytes);
        if (parsed is null)
        {
            return new RowOutcome(RowKind.Refused, problems, null);
        }
        var (check, blocked, _) = PlanChecks.Of(plan, PlanBudget.StartNew(PlanBudget.PerEvent), parsed.EventType, parsed.Properties, parsed.Traits);
        if (blocked)
        {
            return new RowOutcome(RowKind.Refused, [.. check!.Violations!.Select(v => $"{v.Path}: {v.Message} (tracking plan version {check.Version})")], null);
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(ownId is not null ? Encoding.UTF8.GetBytes("id\n" + ownId) : Identity(bytes), hash);
        var key = RowKey.Of(hash);
        var occurrence = seen[key] = seen.GetValueOrDefault(key) + 1;
        if (ownId is not null && occurrence > 1)
        {
            return new RowOutcome(RowKind.Duplicate, [], null);
        }
        var id = ownId ?? $"import:{Convert.ToHexStringLower(hash)[..40]}:{occurrence}";
        return new RowOutcome(RowKind.Accepted, [], parsed with { EventId = id, Plan = check, ImportFile = file, ImportLine = record.Line });
    }

    // The bytes a row without an id is known by: the parser's prefix (a CSV file's header), then the record's.
    private ReadOnlySpan<byte> Identity(ReadOnlySpan<byte> record)
    {
        var prefix = parser.IdentityPrefix.Span;
        if (prefix.IsEmpty)
        {
            return record;
        }
        if (_identity.Length < prefix.Length + record.Length)
        {
            _identity = new byte[(prefix.Length + record.Length) * 2];
        }
        prefix.CopyTo(_identity);
        record.CopyTo(_identity.AsSpan(prefix.Length));
        return _identity.AsSpan(0, prefix.Length + record.Length);
    }
}
