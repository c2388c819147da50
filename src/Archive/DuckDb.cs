using System.Globalization;
using DuckDB.NET.Data;

namespace Pipeline.Archive;

/// <summary>
/// Opens the embedded DuckDB database that counts, compacts and queries the archive, and defines the archive's tables
/// and the <c>events</c> view over downloaded files (the same names and columns as the deployment's Glue tables).
/// </summary>
public static class DuckDb
{
    /// <summary>
    /// An in-memory database whose home, extension and temporary folders are under <paramref name="root"/> (Lambda writes
    /// only to <c>/tmp</c>), held to <paramref name="limits"/>, in UTC. JSON and Parquet are built into the library:
    /// nothing is downloaded, and nothing is written outside the root.
    /// </summary>
    public static DuckDBConnection Open(string root, DuckDbLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Directory.CreateDirectory(Path.Combine(root, "temp"));
        var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        Execute(connection, string.Create(CultureInfo.InvariantCulture, $"""
            SET autoinstall_known_extensions = false;
            SET home_directory = '{Quote(root)}';
            SET extension_directory = '{Quote(Path.Combine(root, "extensions"))}';
            SET temp_directory = '{Quote(Path.Combine(root, "temp"))}';
            SET memory_limit = '{limits.MemoryLimitMegabytes}MB';
            SET threads = {limits.Threads};
            SET preserve_insertion_order = false;
            SET TimeZone = 'UTC';
            """));
        return connection;
    }

    /// <summary>
    /// Defines <c>events_parquet</c> and <c>events_raw</c> over the given files (paths that hold their hour's
    /// <c>dt=…/hour=…</c> partition, as the archive's keys do) and the <c>events</c> view over both, with the view
    /// statement Athena runs (<see cref="EventColumns.ViewSql"/>): Athena's <c>from_iso8601_timestamp</c> is a macro here.
    /// </summary>
    public static void DefineViews(DuckDBConnection connection, HourFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        const string partitions = "hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': INTEGER}";
        var parquet = files.Parquet.Count > 0
            ? ParquetSelect(connection, files.Parquet, EventColumns.All, ["dt", "hour"], partitions)
            : Empty(EventColumns.All.Select(c => (c.Name, c.DuckDbType)));
        var rawColumns = string.Join(", ", EventColumns.RawFields.Select(c => $"\"{c.Name}\"").Concat(["dt", "hour"]));
        var rawTypes = string.Join(", ", EventColumns.RawFields.Select(c => $"\"{c.Name}\": '{c.DuckDbType}'"));
        var raw = files.Raw.Count > 0
            ? $"SELECT {rawColumns} FROM read_json({List(files.Raw)}, format = 'newline_delimited', compression = 'gzip', {partitions}, columns = {{{rawTypes}}})"
            : Empty(EventColumns.RawFields.Select(c => (c.Name, c.DuckDbType)));
        Execute(connection, $"""
            CREATE OR REPLACE MACRO from_iso8601_timestamp(t) AS CAST(t AS TIMESTAMPTZ);
            CREATE OR REPLACE VIEW {EventColumns.ParquetTable} AS {parquet};
            CREATE OR REPLACE VIEW {EventColumns.RawTable} AS {raw};
            {EventColumns.ViewSql()};
            """);
    }

    /// <summary>
    /// Locks the connection down for SQL a user writes: no file or network access but to <paramref name="directories"/>
    /// (the downloaded archive the views read, DuckDB's own spill folder), no extension, and no setting changed after.
    /// </summary>
    public static void LockDown(DuckDBConnection connection, IEnumerable<string> directories)
    {
        ArgumentNullException.ThrowIfNull(directories);
        Execute(connection, $"""
            SET allowed_directories = {List(directories.Select(d => d.EndsWith('/') ? d : d + "/"))};
            SET enable_external_access = false;
            SET autoload_known_extensions = false;
            SET lock_configuration = true;
            """);
    }

    /// <summary>
    /// The one reading rule for Parquet files of any schema version (docs/query.md): a <c>SELECT</c> of
    /// <paramref name="columns"/> (and the <paramref name="extras"/> the reader adds, such as <c>dt</c> or
    /// <c>filename</c>) from <paramref name="files"/> read by name, where a column no file has reads as NULL of its type,
    /// and a column some files lack reads as NULL in those (<c>union_by_name</c>).
    /// </summary>
    public static string ParquetSelect(DuckDBConnection connection, IReadOnlyList<string> files, IEnumerable<EventColumn> columns,
        IEnumerable<string>? extras = null, string options = "")
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(columns);
        var source = $"read_parquet({List(files)}, union_by_name = true{(options.Length == 0 ? "" : ", " + options)})";
        var present = new HashSet<string>(StringComparer.Ordinal);
        using (var describe = connection.CreateCommand())
        {
            describe.CommandText = $"DESCRIBE SELECT * FROM {source}";
            using var reader = describe.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetString(0));
            }
        }
        var select = columns.Select(c => present.Contains(c.Name) ? $"\"{c.Name}\"" : $"CAST(NULL AS {c.DuckDbType}) AS \"{c.Name}\"")
            .Concat(extras ?? []);
        return $"SELECT {string.Join(", ", select)} FROM {source}";
    }

    /// <summary>A DuckDB list literal of file paths.</summary>
    public static string List(IEnumerable<string> paths) => $"[{string.Join(", ", paths.Select(p => $"'{Quote(p)}'"))}]";

    /// <summary>Runs statements that return nothing; cancelling the token interrupts them (an <see cref="OperationCanceledException"/>).</summary>
    public static void Execute(DuckDBConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var interrupt = cancellationToken.Register(command.Cancel);
        command.ExecuteNonQuery();
        cancellationToken.ThrowIfCancellationRequested();
    }

    // A table of no rows with the given columns and the partitions, for a form the range holds no file of.
    private static string Empty(IEnumerable<(string Name, string Type)> columns)
    {
        var nulls = columns.Concat(EventColumns.Partitions.Select(p => (p.Name, Type: p.DuckDbType))).Select(c => $"CAST(NULL AS {c.Type}) AS \"{c.Name}\"");
        return $"SELECT {string.Join(", ", nulls)} WHERE false";
    }

    /// <summary>Text as the inside of a SQL string literal (<c>'…'</c>): each quote doubled. The one quoting of the archive's SQL.</summary>
    public static string Quote(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("'", "''", StringComparison.Ordinal);
    }
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
