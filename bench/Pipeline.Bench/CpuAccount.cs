using System.Globalization;

namespace Pipeline.Bench;

/// <summary>
/// CPU time used by this process and its descendants, by role, from <c>/proc</c> (Linux): where a measured phase spent
/// the machine's cores. Other processes on the machine are counted together, from <c>/proc/stat</c>.
/// </summary>
internal sealed class CpuAccount
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux
    private readonly Dictionary<string, double> _seconds;
    private readonly DateTimeOffset _at;

    private CpuAccount(Dictionary<string, double> seconds, DateTimeOffset at)
    {
        _seconds = seconds;
        _at = at;
    }

    public static bool Available => File.Exists("/proc/stat");

    /// <summary>CPU seconds so far: this process, its descendants by role, and the machine's busy time.</summary>
    public static CpuAccount Sample()
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        if (!Available)
        {
            return new CpuAccount(seconds, DateTimeOffset.UtcNow);
        }
        var self = Environment.ProcessId;
        var parents = new Dictionary<int, int>();
        var times = new Dictionary<int, double>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText($"{folder}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                times[pid] = (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // Gone, or not ours to read.
            }
        }
        foreach (var (pid, cpu) in times)
        {
            if (!Descends(pid))
            {
                continue;
            }
            var role = pid == self ? "bench" : Role(pid);
            seconds[role] = seconds.GetValueOrDefault(role) + cpu;
        }
        var machine = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var total = machine[1..].Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        seconds["machine busy"] = (total.Sum() - total[3] - total[4]) / TicksPerSecond; // all but idle and iowait
        return new CpuAccount(seconds, DateTimeOffset.UtcNow);

        bool Descends(int pid)
        {
            for (var p = pid; p > 1; p = parents.GetValueOrDefault(p))
            {
                if (p == self)
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>CPU seconds per role between <paramref name="before"/> and this sample, and the wall time.</summary>
    public (Dictionary<string, double> Seconds, TimeSpan Wall) Since(CpuAccount before) =>
        (_seconds.ToDictionary(s => s.Key, s => s.Value - before._seconds.GetValueOrDefault(s.Key)), _at - before._at);

    private static string Role(int pid)
    {
        try
        {
            var command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return command switch
            {
                _ when command.Contains("DynamoDBLocal", StringComparison.Ordinal) => "DynamoDB Local",
                _ when command.Contains("Pipeline.Processor", StringComparison.Ordinal) => "Processor processes",
                _ when command.Contains("Pipeline.Importer", StringComparison.Ordinal) => "import function",
                _ when command.Contains("node", StringComparison.Ordinal) || command.Contains("launch.mjs", StringComparison.Ordinal) => "fauxqs",
                _ => "other children",
            };
        }
        catch (IOException)
        {
            return "other children";
        }
    }
}
