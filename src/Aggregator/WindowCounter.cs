using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>The counts of a window, and how many archived lines of it were read to count them.</summary>
public sealed record WindowCounts(long Total, IReadOnlyDictionary<string, long> ByEventType, long UniqueUsers, long UniqueAnonymousIds, long EventsRead);

/// <summary>
/// Counts a window's events with DuckDB, embedded, over the archive files of the hours it overlaps (docs/architecture.md,
/// D10): each <c>eventId</c> once (the archive may hold an event twice), in SQL, so no managed collection grows with the
/// volume; DuckDB spills to its temporary folder past its memory limit. Hand-written counting would hold every id in
/// memory; DuckDB's JSON reader and hash aggregates are what a window of ten million events needs.
/// </summary>
public sealed class WindowCounter : IDisposable
{
    private readonly DuckDBConnection _connection;

    /// <summary>An in-memory database whose home, extension and temporary folders are under <paramref name="root"/> (Lambda writes only to <c>/tmp</c>).</summary>
    public WindowCounter(string root, DuckDbLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Directory.CreateDirectory(Path.Combine(root, "temp"));
        _connection = new DuckDBConnection("DataSource=:memory:");
        _connection.Open();
        using var command = _connection.CreateCommand();
        // JSON is built into the library; nothing is downloaded, and nothing is written outside the root.
        command.CommandText = string.Create(CultureInfo.InvariantCulture, $"""
            SET autoinstall_known_extensions = false;
            SET home_directory = '{Quote(root)}';
            SET extension_directory = '{Quote(Path.Combine(root, "extensions"))}';
            SET temp_directory = '{Quote(Path.Combine(root, "temp"))}';
            SET memory_limit = '{limits.MemoryLimitMegabytes}MB';
            SET threads = {limits.Threads};
            SET preserve_insertion_order = false;
            """);
        command.ExecuteNonQuery();
    }

    /// <summary>Counts the events received in [start, end) among the lines of <paramref name="files"/>.</summary>
    public async Task<WindowCounts> CountAsync(IReadOnlyList<string> files, SummaryWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var byType = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (files.Count == 0)
        {
            return new WindowCounts(0, byType, 0, 0, 0);
        }
        using var command = _connection.CreateCommand();
        // Times are compared as text to the second: the archive writes them in a fixed-width UTC format (older lines
        // carry "+00:00"), and windows are whole minutes, so the first 19 characters decide, with no rounding.
        command.CommandText = $$"""
            WITH lines AS (
                SELECT eventId, eventType, nullif(userId, '') AS userId, nullif(anonymousId, '') AS anonymousId
                FROM read_json([{{string.Join(", ", files.Select(f => $"'{Quote(f)}'"))}}], format = 'newline_delimited', compression = 'gzip',
                    columns = {eventId: 'VARCHAR', eventType: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', receivedAt: 'VARCHAR'})
                WHERE left(receivedAt, 19) >= $start AND left(receivedAt, 19) < $end AND eventId IS NOT NULL AND eventType IS NOT NULL),
            events AS MATERIALIZED (
                SELECT eventId, any_value(eventType) AS eventType, any_value(userId) AS userId, any_value(anonymousId) AS anonymousId, count(*) AS copies
                FROM lines GROUP BY eventId)
            SELECT 0 AS kind, eventType AS name, count(*) AS n FROM events GROUP BY eventType
            UNION ALL SELECT 1, NULL, count(DISTINCT userId) FROM events
            UNION ALL SELECT 2, NULL, count(DISTINCT anonymousId) FROM events
            UNION ALL SELECT 3, NULL, CAST(coalesce(sum(copies), 0) AS BIGINT) FROM events
            """;
        command.Parameters.Add(new DuckDBParameter("start", EventLayout.FormatTime(window.Start)[..19]));
        command.Parameters.Add(new DuckDBParameter("end", EventLayout.FormatTime(window.End)[..19]));
        long users = 0, anonymous = 0, read = 0;
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var n = reader.GetInt64(2);
            switch (reader.GetInt32(0))
            {
                case 0: byType[reader.GetString(1)] = n; break;
                case 1: users = n; break;
                case 2: anonymous = n; break;
                default: read = n; break;
            }
        }
        return new WindowCounts(byType.Values.Sum(), byType, users, anonymous, read);
    }

    private static string Quote(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    /// <summary>Closes the database.</summary>
    public void Dispose() => _connection.Dispose();
}

/// <summary>
/// What DuckDB may use of the function's memory and CPU. Lambda gives a function CPU in proportion to its memory (a whole
/// vCPU at 1,769 MB) and says nothing of it to the process, which sees every core of the host; DuckDB's memory limit
/// covers its buffers, not the process (the .NET heap, the native library, the JSON reader's buffers), so it gets a share.
/// </summary>
/// <param name="MemoryLimitMegabytes">DuckDB's <c>memory_limit</c>.</param>
/// <param name="Threads">DuckDB's worker threads.</param>
public sealed record DuckDbLimits(int MemoryLimitMegabytes, int Threads)
{
    /// <summary>Megabytes of function memory that buy one vCPU (AWS Lambda Developer Guide, "Configuring function memory").</summary>
    public const int MegabytesPerVcpu = 1769;

    /// <summary>Megabytes left to the process outside DuckDB's limit: the runtime, the native library, the SDK.</summary>
    public const int ProcessReserveMegabytes = 256;

    /// <summary>The limits for a function of <paramref name="memorySizeMegabytes"/> (<c>AWS_LAMBDA_FUNCTION_MEMORY_SIZE</c>).</summary>
    public static DuckDbLimits ForFunction(int memorySizeMegabytes) => new(
        Math.Max(64, (memorySizeMegabytes - ProcessReserveMegabytes) * 6 / 10),
        Math.Clamp((memorySizeMegabytes + MegabytesPerVcpu - 1) / MegabytesPerVcpu, 1, Environment.ProcessorCount));

    /// <summary>The limits for this process: from <c>AWS_LAMBDA_FUNCTION_MEMORY_SIZE</c>, or as for 512 MB if it is not set.</summary>
    public static DuckDbLimits FromEnvironment(Func<string, string?>? read = null)
    {
        var text = (read ?? Environment.GetEnvironmentVariable)("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        return ForFunction(int.TryParse(text, CultureInfo.InvariantCulture, out var megabytes) && megabytes >= 128 ? megabytes : 512);
    }
}
