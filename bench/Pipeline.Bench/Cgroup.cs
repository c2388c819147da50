using System.Globalization;

namespace Pipeline.Bench;

/// <summary>
/// A cgroup (v1) sized as Lambda sizes a function: a memory limit of MemorySize and a CPU quota of MemorySize/1,769 of a
/// core (Lambda gives one vCPU at 1,769 MB, and CPU in proportion to memory). A model of the deployed share: Lambda's
/// own limits (its init phase in particular) may not be applied exactly so. The process is told the number of CPUs a
/// Lambda environment shows (<see cref="VisibleCpus"/>), not the quota rounded up, which .NET would take from the cgroup.
/// </summary>
internal sealed class Cgroup : IDisposable
{
    private readonly string _memory;
    private readonly string _cpu;
    private readonly int _memorySizeMegabytes;

    private Cgroup(string name, int memorySizeMegabytes)
    {
        _memory = $"/sys/fs/cgroup/memory/{name}";
        _cpu = $"/sys/fs/cgroup/cpu/{name}";
        _memorySizeMegabytes = memorySizeMegabytes;
        Directory.CreateDirectory(_memory);
        Directory.CreateDirectory(_cpu);
        File.WriteAllText($"{_memory}/memory.limit_in_bytes", $"{(long)memorySizeMegabytes * 1048576}");
        File.WriteAllText($"{_cpu}/cpu.cfs_period_us", "100000");
        File.WriteAllText($"{_cpu}/cpu.cfs_quota_us", $"{CpuShare(memorySizeMegabytes) * 100000:0}");
    }

    /// <summary>
    /// The CPUs a Lambda environment of <paramref name="memorySizeMegabytes"/> shows its processes: two up to 3,008 MB, three
    /// to 5,307, four to 7,076, five to 8,845, then six, while the time they may use is the share (<see cref="CpuShare"/>).
    /// From third-party measurements (/proc/cpuinfo and nproc inside functions of each size, on x86_64, e.g.
    /// github.com/rwnx/lambda-cpuinfo): AWS documents the share, not the count, and this stack deploys arm64, unverified.
    /// It matters to .NET: seeing one CPU, it waits ten times longer before it optimizes hot code, and sizes its thread
    /// pool and GC for one.
    /// </summary>
    public static int VisibleCpus(int memorySizeMegabytes) => memorySizeMegabytes switch
    {
        <= 3008 => 2,
        <= 5307 => 3,
        <= 7076 => 4,
        <= 8845 => 5,
        _ => 6,
    };

    /// <summary>The share of a core Lambda gives a function of <paramref name="memorySizeMegabytes"/>.</summary>
    public static double CpuShare(int memorySizeMegabytes) => memorySizeMegabytes / 1769.0;

    /// <summary>The process's peak memory use, page cache included.</summary>
    public long PeakBytes => long.Parse(File.ReadAllText($"{_memory}/memory.max_usage_in_bytes").Trim(), CultureInfo.InvariantCulture);

    /// <summary>How many of the cgroup's 100 ms periods so far ran into the CPU quota, of those in which it ran.</summary>
    public (long Periods, long Throttled) Throttling
    {
        get
        {
            var stat = File.ReadAllLines($"{_cpu}/cpu.stat").Select(l => l.Split(' ')).ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture));
            return (stat.GetValueOrDefault("nr_periods"), stat.GetValueOrDefault("nr_throttled"));
        }
    }

    /// <summary>A cgroup for a function of <paramref name="memorySizeMegabytes"/>; needs cgroup v1's memory and cpu controllers, writable (root).</summary>
    public static Cgroup Create(int memorySizeMegabytes)
    {
        if (!Directory.Exists("/sys/fs/cgroup/memory") || !Directory.Exists("/sys/fs/cgroup/cpu"))
        {
            throw new InvalidOperationException("This benchmark needs cgroup v1's memory and cpu controllers (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu), writable (root).");
        }
        return new Cgroup($"pipeline-bench-{Guid.NewGuid():N}", memorySizeMegabytes);
    }

    /// <summary>
    /// A script that joins this cgroup and then runs <paramref name="program"/> (<c>dotnet</c> unless told) with its arguments, told
    /// the CPUs Lambda shows: the process is held from its first instruction, before the runtime starts.
    /// </summary>
    public async Task<string> LauncherAsync(string folder, string program = "dotnet")
    {
        Directory.CreateDirectory(folder);
        var launcher = Path.Combine(folder, $"launch-{Guid.NewGuid():N}.sh");
        var join = $"echo $$ > {_memory}/cgroup.procs && echo $$ > {_cpu}/cgroup.procs || exit 70";
        var cpus = $"export DOTNET_PROCESSOR_COUNT={VisibleCpus(_memorySizeMegabytes)}";
        await File.WriteAllTextAsync(launcher, $"#!/bin/sh\n{join}\n{cpus}\nexec \"{program}\" \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return launcher;
    }

    public void Dispose()
    {
        foreach (var path in new[] { _memory, _cpu })
        {
            try
            {
                Directory.Delete(path);
            }
            catch (IOException)
            {
                // a process still in it; the next boot clears it
            }
        }
    }
}
