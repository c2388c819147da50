namespace Pipeline.Intake;

/// <summary>The formats of an imported file (docs/import.md, "Formats").</summary>
public enum ImportFormat
{
    /// <summary>JSON Lines of this API's own event shape (POST /events).</summary>
    Events,

    /// <summary>JSON Lines of Segment messages (Segment's and RudderStack's S3 destinations), under <c>uploads/segment/KEYID/</c>.</summary>
    Segment,

    /// <summary>CSV (RFC 4180) with a header row.</summary>
    Csv,
}

/// <summary>
/// How a file's format is known, from its key alone (docs/architecture.md, D20): under <c>uploads/segment/KEYID/</c> a
/// Segment archive (any name Segment's or RudderStack's S3 destination writes), else by its suffix: <c>.csv</c> is CSV,
/// <c>.jsonl</c> and <c>.ndjson</c> are events; a <c>.gz</c> suffix is gzip.
/// </summary>
public static class ImportFiles
{
    /// <summary>Where uploaded files are; only these are imported.</summary>
    public const string UploadsPrefix = "uploads/";

    /// <summary>Where Segment files go, each under the id of the write key its messages were sent with.</summary>
    public const string SegmentPrefix = "uploads/segment/";

    /// <summary>The names of an events file.</summary>
    public static readonly IReadOnlyList<string> EventSuffixes = [".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"];

    /// <summary>The names of a CSV file.</summary>
    public static readonly IReadOnlyList<string> CsvSuffixes = [".csv", ".csv.gz"];

    /// <summary>The names of a Segment file (Segment's S3 destination writes <c>.gz</c>, RudderStack's <c>.json.gz</c>).</summary>
    public static readonly IReadOnlyList<string> SegmentSuffixes = [".gz", ".json", ".jsonl", ".ndjson"];

    /// <summary>What an API key's id looks like (<c>pipeline keys list</c>): the first 12 hex digits of its hash.</summary>
    public const int KeyIdLength = 12;

    private static readonly System.Buffers.SearchValues<char> Hex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>The format of the object <paramref name="key"/> (from the bucket's root), or why it cannot be imported.</summary>
    public static (ImportFormat? Format, string? Error) Of(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.StartsWith(SegmentPrefix, StringComparison.Ordinal))
        {
            if (SegmentKeyId(key) is null)
            {
                return (null, $"A Segment file goes under {SegmentPrefix}KEYID/, KEYID being the id (pipeline keys list) of the write key its messages "
                    + "were sent with, so that a message sent live and imported later is stored once.");
            }
            return Ends(key, SegmentSuffixes) ? (ImportFormat.Segment, null)
                : (null, $"A Segment file's name must end in {string.Join(", ", SegmentSuffixes)}.");
        }
        return Ends(key, CsvSuffixes) ? (ImportFormat.Csv, null)
            : Ends(key, EventSuffixes) ? (ImportFormat.Events, null)
            : (null, $"The file's name must end in {string.Join(", ", EventSuffixes.Concat(CsvSuffixes))}, or the file go under {SegmentPrefix}KEYID/.");
    }

    /// <summary>The write key id of a Segment file's key (<c>uploads/segment/KEYID/...</c>), or null if it has none.</summary>
    public static string? SegmentKeyId(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.StartsWith(SegmentPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        var rest = key.AsSpan(SegmentPrefix.Length);
        var slash = rest.IndexOf('/');
        var id = slash < 0 ? [] : rest[..slash];
        return id.Length == KeyIdLength && !id.ContainsAnyExcept(Hex) ? id.ToString() : null;
    }

    /// <summary>How many bytes at a file's start are looked at for a NUL byte: a binary file is unreadable.</summary>
    public const int BinaryPeekBytes = 8000;

    /// <summary>Why a file whose first bytes hold a NUL byte is unreadable (the import's and the dry run's words).</summary>
    public static string BinaryError(ImportFormat? format, bool gzip)
    {
        var what = format == ImportFormat.Csv ? "CSV" : "JSON Lines";
        return gzip ? $"The file is binary once decompressed, not {what}." : $"The file is binary, not {what} (a gzip file's name ends in .gz).";
    }

    /// <summary>Why a file whose first bytes cannot even be decompressed is unreadable (a <c>.gz</c> name on a file that is not gzip).</summary>
    public static string UndecompressableError(string message) =>
        $"The file cannot be decompressed (its name ends in .gz: is it gzip?): {message}";

    /// <summary>Why a gzip file that stops short of its trailer's length is unreadable; its rows before the cut are imported.</summary>
    public static string TruncatedGzipError(long offset, long lines) =>
        $"The gzip file is truncated or corrupt: it ends after {offset} bytes of content, short of what its trailer says; the {lines} lines before were imported.";

    /// <summary>Why a file that turns corrupt after <paramref name="line"/> is unreadable; its rows before it are imported.</summary>
    public static string CorruptError(long line, string message) => $"The file cannot be read after line {line}: {message}";

    /// <summary>Whether the object is gzip (by its <c>.gz</c> suffix).</summary>
    public static bool IsGzip(string key) => key?.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) == true;

    private static bool Ends(string key, IReadOnlyList<string> suffixes) => suffixes.Any(s => key.EndsWith(s, StringComparison.OrdinalIgnoreCase));
}
