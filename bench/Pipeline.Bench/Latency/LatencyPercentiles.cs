namespace Pipeline.Bench.Latency;

/// <summary>
/// Percentiles of a run's latencies in milliseconds, exact by nearest rank: a run keeps every sample (100 k doubles are
/// under a megabyte), so no histogram's rounding (HdrHistogram's) stands between a sample and its percentile.
/// </summary>
internal sealed record LatencyPercentiles(double P50, double P99, double P999, double Max)
{
    public static LatencyPercentiles Of(IReadOnlyCollection<double> samplesMs)
    {
        if (samplesMs.Count == 0)
        {
            return new LatencyPercentiles(double.NaN, double.NaN, double.NaN, double.NaN);
        }
        var sorted = samplesMs.ToArray();
        Array.Sort(sorted);
        return new LatencyPercentiles(Rank(sorted, 0.50), Rank(sorted, 0.99), Rank(sorted, 0.999), sorted[^1]);
    }

    // The smallest sample with at least p of all samples at or below it.
    private static double Rank(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
