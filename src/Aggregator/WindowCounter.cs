using System.Data.Common;
using System.Globalization;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Storage;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>The counts of a window, and how many archived lines of it were read to count them.</summary>
public sealed record WindowCounts(long Total, IReadOnlyDictionary<string, long> ByEventType, long UniqueUsers, long UniqueAnonymousIds, long EventsRead)
{
    /// <summary>Events the tracking plan flagged, per event type (types with none are left out).</summary>
    public IReadOnlyDictionary<string, long> FlaggedByEventType { get; init; } = new Dictionary<string, long>();
}

/// <summary>
/// Counts a window's events with DuckDB, embedded, over the archive files of the hours it overlaps, raw and compacted
/// alike (docs/architecture.md, D10): each <c>eventId</c> once (the archive may hold an event twice, and an hour being
/// compacted holds it in both forms), in SQL, so no managed collection grows with the
/// volume; DuckDB spills to its temporary folder past its memory limit. Hand-written counting would hold every id in
/// memory; DuckDB's JSON reader and hash aggregates are what a window of ten million events needs.
/// </summary>
public sealed class WindowCounter(DuckDBConnection connection)
{
    /// <summary>Counts the events received in [start, end) among the hours' files.</summary>
    public async Task<WindowCounts> CountAsync(HourFiles files, SummaryWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var byType = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var sources = new List<string>();
        if (files.Raw.Count > 0)
        {
            sources.Add($$"""
                SELECT eventId, eventType, userId, anonymousId, receivedAt AS receivedAtText, plan
                FROM read_json({{DuckDb.List(files.Raw)}}, format = 'newline_delimited', compression = 'gzip',
                    columns = {eventId: 'VARCHAR', eventType: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', receivedAt: 'VARCHAR', plan: 'VARCHAR'})
                """);
        }
        if (files.Parquet.Count > 0)
        {
            // The reading rule: a file compacted before the plan column existed reads it as NULL.
            string[] counted = ["eventId", "eventType", "userId", "anonymousId", "receivedAtText", "plan"];
            sources.Add(DuckDb.ParquetSelect(connection, files.Parquet, EventColumns.All.Where(c => counted.Contains(c.Name))));
        }
        if (sources.Count == 0)
        {
            return new WindowCounts(0, byType, 0, 0, 0);
        }
        using var command = connection.CreateCommand();
        // Times are compared as text to the second: the archive writes them in a fixed-width UTC format (older lines
        // carry "+00:00"), and windows are whole minutes, so the first 19 characters decide, with no rounding.
        command.CommandText = $"""
            WITH lines AS (
                SELECT eventId, eventType, nullif(userId, '') AS userId, nullif(anonymousId, '') AS anonymousId,
                    json_extract_string(plan, '$.status') = 'flagged' AS flagged
                FROM ({string.Join(" UNION ALL ", sources)}) AS archived
                WHERE left(receivedAtText, 19) >= $start AND left(receivedAtText, 19) < $end AND eventId IS NOT NULL AND eventType IS NOT NULL),
            events AS MATERIALIZED (
                SELECT eventId, any_value(eventType) AS eventType, any_value(userId) AS userId, any_value(anonymousId) AS anonymousId, count(*) AS copies,
                    bool_or(coalesce(flagged, false)) AS flagged
                FROM lines GROUP BY eventId)
            SELECT 0 AS kind, eventType AS name, count(*) AS n FROM events GROUP BY eventType
            UNION ALL SELECT 1, NULL, count(DISTINCT userId) FROM events
            UNION ALL SELECT 2, NULL, count(DISTINCT anonymousId) FROM events
            UNION ALL SELECT 3, NULL, CAST(coalesce(sum(copies), 0) AS BIGINT) FROM events
            UNION ALL SELECT 4, eventType, count(*) FROM events WHERE flagged GROUP BY eventType
            """;
        command.Parameters.Add(new DuckDBParameter("start", EventLayout.FormatTime(window.Start)[..19]));
        command.Parameters.Add(new DuckDBParameter("end", EventLayout.FormatTime(window.End)[..19]));
        long users = 0, anonymous = 0, read = 0;
        var flagged = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var n = reader.GetInt64(2);
            switch (reader.GetInt32(0))
            {
                case 0: byType[reader.GetString(1)] = n; break;
                case 1: users = n; break;
                case 2: anonymous = n; break;
                case 3: read = n; break;
                default: flagged[reader.GetString(1)] = n; break;
            }
        }
        return new WindowCounts(byType.Values.Sum(), byType, users, anonymous, read) { FlaggedByEventType = flagged };
    }
}
