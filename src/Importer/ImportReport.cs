namespace Pipeline.Importer;

/// <summary>A row the import refused: its line and why.</summary>
/// <param name="Line">Its line in the file, from 1.</param>
/// <param name="Reasons">Each problem, naming the field as POST /events names it.</param>
public sealed record RefusedRow(long Line, IReadOnlyList<string> Reasons);

/// <summary>What became of one imported file: the report written to S3 and summarized on its record.</summary>
public sealed record ImportReport
{
    /// <summary>Most refused rows listed in full; the count says how many there were.</summary>
    public const int MaxRefusedListed = 1000;

    /// <summary>The file (<c>s3://bucket/key</c>).</summary>
    public required string File { get; init; }

    /// <summary>The version imported.</summary>
    public required string ETag { get; init; }

    /// <summary><c>imported</c> (every line read) or <c>unreadable</c> (stopped: see <see cref="Error"/>).</summary>
    public required string Status { get; init; }

    /// <summary>Why the file could not be read to its end, if so.</summary>
    public string? Error { get; init; }

    /// <summary>Lines read (blank lines included).</summary>
    public long RowsRead { get; init; }

    /// <summary>Rows sent to the import events queue (each is stored once: see docs/import.md).</summary>
    public long Accepted { get; init; }

    /// <summary>Rows refused.</summary>
    public long Refused { get; init; }

    /// <summary>Rows whose own <c>eventId</c> an earlier row of the file had: not sent again.</summary>
    public long Duplicates { get; init; }

    /// <summary>Blank lines, skipped.</summary>
    public long Blank { get; init; }

    /// <summary>The first <see cref="MaxRefusedListed"/> refused rows.</summary>
    public IReadOnlyList<RefusedRow> RefusedRows { get; init; } = [];

    /// <summary>When the import started and finished (UTC).</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>When the import finished (UTC).</summary>
    public DateTimeOffset FinishedAt { get; init; }
}
