using System.Collections.Concurrent;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Lambda;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// A function object's files: a folder of its own under the root, which holds the runs' downloads, the compactions'
/// work and DuckDB's database, opened by the first count or compaction (not at start: the process answers its first
/// GET /next sooner). Folders of no live object (a process stopped by its time-out left them, and Lambda keeps /tmp
/// for the next process) are deleted at the next run.
/// </summary>
public sealed class ScratchSpace : IDisposable
{
    private static readonly ConcurrentDictionary<string, bool> LiveFolders = new();
    private readonly string _root;
    private readonly FunctionLog _log;
    private readonly Lazy<DuckDBConnection> _duckDb;

    /// <summary>A folder of its own under <paramref name="root"/> (default: the system's temporary folder), made when first written to.</summary>
    public ScratchSpace(string? root, FunctionLog log)
    {
        _log = log;
        _root = root ?? Path.Combine(Path.GetTempPath(), "pipeline-aggregator");
        var name = Guid.NewGuid().ToString("N");
        LiveFolders[name] = true;
        Folder = Path.Combine(_root, name);
        _duckDb = new(() => DuckDb.Open(Path.Combine(Folder, "duckdb"), DuckDbLimits.FromEnvironment()));
    }

    /// <summary>This object's folder.</summary>
    public string Folder { get; }

    /// <summary>DuckDB, opened on first use.</summary>
    public DuckDBConnection DuckDbConnection => _duckDb.Value;

    /// <summary>Deletes the folders no live object holds; one that cannot be deleted is logged and left.</summary>
    public void DeleteLeftovers()
    {
        if (!Directory.Exists(_root))
        {
            return;
        }
        foreach (var folder in Directory.EnumerateDirectories(_root).Where(f => !LiveFolders.ContainsKey(Path.GetFileName(f))))
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Write("WARN", $"Could not delete {folder}: {e.Message}");
            }
        }
    }

    /// <summary>Closes DuckDB, if it was opened, and deletes this object's files.</summary>
    public void Dispose()
    {
        if (_duckDb.IsValueCreated)
        {
            _duckDb.Value.Dispose();
        }
        LiveFolders.TryRemove(Path.GetFileName(Folder), out _);
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }
}
