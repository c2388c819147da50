using Pipeline.Bench.Latency;

namespace Pipeline.Deployment.Tests;

/// <summary>The api benchmark's constant-rate client (bench/Pipeline.Bench/Latency, linked): its schedule, percentiles and stalls.</summary>
public class FixedRateClientTests
{
    [Fact]
    public void Percentiles_are_the_nearest_rank()
    {
        var percentiles = LatencyPercentiles.Of([.. Enumerable.Range(1, 1000).Select(i => (double)i).Reverse()]);

        Assert.Equal(new LatencyPercentiles(500, 990, 999, 1000), percentiles);
        Assert.Equal(new LatencyPercentiles(7, 7, 7, 7), LatencyPercentiles.Of([7]));
    }

    [Fact]
    public void Request_i_is_due_i_over_the_rate_after_the_start()
    {
        var schedule = new FixedRateSchedule(Start: 1_000, Rate: 4_000, TicksPerSecond: 1_000_000);

        Assert.Equal(1_000, schedule.DueAt(0));
        Assert.Equal(1_250, schedule.DueAt(1));
        Assert.Equal(1_500, schedule.DueAt(2));
        Assert.Equal(251_000, schedule.DueAt(1_000));
    }

    [Fact]
    public async Task A_stall_counts_against_every_request_due_during_it()
    {
        // 1,000 requests a second, one at a time; the 100th stalls for 120 ms. A closed-loop client would see one slow request;
        // at a constant rate, the ~100 requests due while it stalls wait for it, and their latency from their due time says so.
        // (The stall is longer than the 100 ms asserted: a timer may fire up to a millisecond early by the stopwatch.)
        var sent = 0;
        var run = await FixedRateClient.RunAsync(1_000, 400, 1, async () =>
        {
            if (Interlocked.Increment(ref sent) == 100)
            {
                await Task.Delay(120);
            }
            return true;
        });

        Assert.Equal(0, run.Errors);
        Assert.True(run.LatenciesMs.Count(l => l >= 50) >= 40, $"latencies of 50 ms or more: {run.LatenciesMs.Count(l => l >= 50)}");
        Assert.True(run.Latency.Max >= 100);
        Assert.True(run.ServiceMs[99] >= 100);
        Assert.All(run.LatenciesMs.Zip(run.ServiceMs), pair => Assert.True(pair.First >= pair.Second));
    }
}
