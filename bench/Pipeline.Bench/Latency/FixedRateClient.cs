using System.Diagnostics;
using System.Threading.Channels;

namespace Pipeline.Bench.Latency;

/// <summary>
/// A constant-rate (open-loop) client: request i is due at start + i / rate, whatever became of the requests before it,
/// and its latency runs from that due time to its answer. A stall therefore counts against every request due during it,
/// not only the one that stalled: coordinated omission does not hide the tail (as wrk2 measures, and HdrHistogram's
/// correction estimates). At most <c>concurrency</c> requests are in flight (wrk2's connections); a due request waits for
/// a free one, and the wait counts.
/// <para>
/// Written by hand: wrk2 is not packaged by Debian (bench/run.sh installs its load client with apt), and the raw
/// SendMessage baseline has to run under the very same schedule, which no HTTP load client can drive. A NuGet package
/// (HdrHistogram) would only record the samples, and a run keeps all of them (<see cref="LatencyPercentiles"/>).
/// </para>
/// </summary>
internal static class FixedRateClient
{
    /// <summary>Sends <paramref name="requests"/> requests at <paramref name="rate"/> a second; send answers whether one succeeded.</summary>
    public static async Task<FixedRateRun> RunAsync(double rate, int requests, int concurrency, Func<Task<bool>> send)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requests);
        var latencies = new double[requests];
        var services = new double[requests];
        var errors = 0;
        var lastSent = 0L;
        var due = Channel.CreateUnbounded<(int Index, long DueAt)>(new UnboundedChannelOptions { SingleWriter = true });
        var schedule = new FixedRateSchedule(Stopwatch.GetTimestamp(), rate, Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            await foreach (var (index, dueAt) in due.Reader.ReadAllAsync())
            {
                var sent = Stopwatch.GetTimestamp();
                var ok = false;
                try
                {
                    ok = await send();
                }
                catch (Exception e) when (e is HttpRequestException or Amazon.Runtime.AmazonServiceException or TaskCanceledException)
                {
                }
                var answered = Stopwatch.GetTimestamp();
                latencies[index] = Stopwatch.GetElapsedTime(dueAt, answered).TotalMilliseconds;
                services[index] = Stopwatch.GetElapsedTime(sent, answered).TotalMilliseconds;
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
                InterlockedMax(ref lastSent, sent);
            }
        })).ToArray();

        // The pacer hands each request to the workers once it is due, never before. It is a thread of its own, so a busy
        // thread pool cannot hold it back, and wakes every millisecond (the finest sleep there is): a request may go out up to
        // about a millisecond after its due time. That counts in its latency, and the report shows it apart (send lag).
        var pacer = new Thread(() =>
        {
            var released = 0;
            while (released < requests)
            {
                var now = Stopwatch.GetTimestamp();
                for (; released < requests && schedule.DueAt(released) <= now; released++)
                {
                    due.Writer.TryWrite((released, schedule.DueAt(released)));
                }
                if (released < requests)
                {
                    Thread.Sleep(1);
                }
            }
            due.Writer.Complete();
        })
        { IsBackground = true, Name = "fixed-rate pacer" };
        pacer.Start();
        await Task.WhenAll(workers);
        var sentOverSeconds = Stopwatch.GetElapsedTime(schedule.Start, lastSent).TotalSeconds;
        return new FixedRateRun(rate, requests, requests > 1 ? (requests - 1) / sentOverSeconds : rate, latencies, services, errors);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }
}

/// <summary>When each request of a constant-rate run is due, in stopwatch ticks.</summary>
internal readonly record struct FixedRateSchedule(long Start, double Rate, long TicksPerSecond)
{
    public long DueAt(int index) => Start + (long)(index * (TicksPerSecond / Rate));
}

/// <summary>
/// One constant-rate run: its latencies from each request's due time (what a user waits), its service times from the
/// actual send (what the server took), and how fast the requests actually went out (the rate held, or not).
/// </summary>
internal sealed record FixedRateRun(double Rate, int Requests, double SentRate, double[] LatenciesMs, double[] ServiceMs, int Errors)
{
    public LatencyPercentiles Latency { get; } = LatencyPercentiles.Of(LatenciesMs);

    public LatencyPercentiles Service { get; } = LatencyPercentiles.Of(ServiceMs);

    /// <summary>How late the client sent, from the due time: the pacer's timer, and waits for a free connection.</summary>
    public LatencyPercentiles SendLag { get; } = LatencyPercentiles.Of([.. LatenciesMs.Zip(ServiceMs, (l, s) => l - s)]);
}
