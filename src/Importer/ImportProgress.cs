namespace Pipeline.Importer;

/// <summary>Where an import stands, as its record in the imports table holds it between invocations.</summary>
public sealed record ImportProgress
{
    /// <summary>Still being imported.</summary>
    public const string Importing = "importing";

    /// <summary>Every line was read; the report is written.</summary>
    public const string Imported = "imported";

    /// <summary>The file could not be read to its end (binary, truncated gzip, unsupported name); the report says why.</summary>
    public const string Unreadable = "unreadable";

    /// <summary><see cref="Importing"/>, <see cref="Imported"/> or <see cref="Unreadable"/>.</summary>
    public string Status { get; init; } = Importing;

    /// <summary>Lines done (sent, refused or skipped) and checkpointed.</summary>
    public long Line { get; init; }

    /// <summary>Bytes of the decompressed file done.</summary>
    public long Offset { get; init; }

    /// <summary>Lines read.</summary>
    public long RowsRead { get; init; }

    /// <summary>Rows sent to the import events queue.</summary>
    public long Accepted { get; init; }

    /// <summary>Rows refused.</summary>
    public long Refused { get; init; }

    /// <summary>Rows repeating an earlier row's own eventId.</summary>
    public long Duplicates { get; init; }

    /// <summary>Blank lines.</summary>
    public long Blank { get; init; }

    /// <summary>How many refused rows the record lists (at most <see cref="ImportReport.MaxRefusedListed"/>).</summary>
    public int RefusedListed { get; init; }

    /// <summary>When the import started.</summary>
    public DateTimeOffset StartedAt { get; init; }
}
