using CsCheck;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Storage;
using Pipeline.Summaries;
using Pipeline.Tests;
using Xunit.Abstractions;

namespace Pipeline.Aggregator.Tests;

/// <summary>
/// Random interleavings of the archive's writers over the real local servers (CsCheck; the emulators cannot be steered
/// by a systematic scheduler): Processor batches, partly archived and redelivered, compactions, and compactions stopped
/// at each pause point past their lease while another writer goes on. After each sequence every archived event is in
/// the archive, and every reader (the events view, the window counter) counts each once. A failure prints its seed:
/// set ARCHIVE_SEED to replay it, ARCHIVE_SEQUENCES to run more.
/// </summary>
public sealed class ArchiveInterleavingTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Sequences = int.TryParse(Environment.GetEnvironmentVariable("ARCHIVE_SEQUENCES"), out var n) ? n : 300;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"interleaving-tests-{Guid.NewGuid():N}");
    private int _sequence;

    /// <summary>One step of a sequence.</summary>
    public abstract record Op;

    /// <summary>
    /// A Processor batch of <paramref name="Count"/> new events into hour <paramref name="Hour"/>; <paramref name="Partial"/>:
    /// a first delivery archives only some, the redelivery all.
    /// </summary>
    public sealed record Batch(int Hour, int Count, bool Partial) : Op;

    /// <summary>A batch delivered again: the same events archived again.</summary>
    public sealed record Redeliver(int Which) : Op;

    /// <summary>A compaction of the hour.</summary>
    public sealed record Compact(int Hour) : Op;

    /// <summary>
    /// A batch into the hour, then a compaction of it stopped at <paramref name="At"/> while <paramref name="During"/>
    /// happens (a compaction during it is of the same hour, on a clock past the stalled one's lease if
    /// <paramref name="Expired"/>), then it goes on, past its lease if <paramref name="Expired"/>.
    /// </summary>
    public sealed record Stalled(int Hour, CompactionStep At, Op During, bool Expired) : Op;

    private static readonly Gen<Op> Simple = Gen.OneOf<Op>(
        Gen.Select(Gen.Int[0, 1], Gen.Int[1, 4], Gen.Bool, (hour, count, partial) => (Op)new Batch(hour, count, partial)),
        Gen.Int[0, 9].Select(which => (Op)new Redeliver(which)),
        Gen.Int[0, 1].Select(hour => (Op)new Compact(hour)));

    private static readonly Gen<Op[]> Sequence = Gen.Frequency<Op>(
        (3, Simple),
        (2, Gen.Select(Gen.Int[0, 1], Gen.Enum<CompactionStep>(), Simple, Gen.Bool, (hour, at, during, expired) => (Op)new Stalled(hour, at, during, expired)))).Array[1, 7];

    [Fact]
    public async Task Every_archived_event_stays_archived_and_is_counted_once_whatever_the_interleaving()
    {
        await using var harness = await AggregatorHarness.StartAsync();
        using var duckDb = DuckDb.Open(Path.Combine(_folder, "duckdb"), DuckDbLimits.ForFunction(1024));
        await Sequence.SampleAsync(ops => RunAsync(harness, duckDb, ops), output.WriteLine,
            seed: Environment.GetEnvironmentVariable("ARCHIVE_SEED"), iter: Sequences, threads: 1, print: ops => string.Join("; ", ops.Select(o => o.ToString())));
    }

    private async Task RunAsync(AggregatorHarness harness, DuckDBConnection duckDb, Op[] ops)
    {
        // Hours of their own for each sequence, far enough back that no window of theirs is still open.
        var origin = EventLayout.Hour(DateTimeOffset.UtcNow).AddHours(-10 - (2 * Interlocked.Increment(ref _sequence)));
        DateTimeOffset[] hours = [origin, origin.AddHours(-1)];
        var batches = new List<List<QueuedEvent>>();
        foreach (var op in ops)
        {
            await ApplyAsync(harness, duckDb, hours, batches, op);
        }
        foreach (var hour in hours)
        {
            var expected = batches.SelectMany(b => b).Where(e => EventLayout.Hour(e.ReceivedAt) == hour).Select(e => e.EventId).Distinct().Order(StringComparer.Ordinal).ToList();
            using var downloads = new ArchiveDownloads(harness.Aws.S3, harness.Stack["ArchiveBucket"], Path.Combine(_folder, $"count-{Guid.NewGuid():N}"));
            var files = await downloads.DownloadAsync(hour, CancellationToken.None);
            if (files.Raw.Count + files.Parquet.Count == 0)
            {
                Assert.Empty(expected);
                continue;
            }
            Assert.Equal(expected, await harness.EventIdsAsync(hour, _folder));
            var counted = await new WindowCounter(duckDb).CountAsync(files, new SummaryWindow(hour, hour.AddHours(1)), CancellationToken.None);
            Assert.Equal(expected.Count, counted.Total);
        }
    }

    private async Task ApplyAsync(AggregatorHarness harness, DuckDBConnection duckDb, DateTimeOffset[] hours, List<List<QueuedEvent>> batches, Op op)
    {
        switch (op)
        {
            case Batch(var hour, var count, var partial):
                var events = Enumerable.Range(0, count).Select(i => AggregatorHarness.Event(hours[hour].AddMinutes(5 + (7 * i)), "page_view", user: $"u{i}")).ToList();
                batches.Add(events);
                if (partial && count > 1)
                {
                    await harness.ArchiveAsync(events[..(count / 2)]); // the rest failed: SQS delivers the batch again
                }
                await harness.ArchiveAsync(events);
                break;
            case Redeliver(var which) when batches.Count > 0:
                await harness.ArchiveAsync(batches[which % batches.Count]);
                break;
            case Compact(var hour):
                await Compactor(harness, duckDb, TimeProvider.System).CompactAsync(hours[hour], CancellationToken.None);
                break;
            case Stalled(var hour, var at, var during, var expired):
                await ApplyAsync(harness, duckDb, hours, batches, new Batch(hour, 2, Partial: false)); // something to compact
                var clock = new TestClock(DateTimeOffset.UtcNow);
                var gate = new Gate<CompactionStep>(at);
                using (var stalledDuckDb = DuckDb.Open(Path.Combine(_folder, $"stalled-{Guid.NewGuid():N}"), DuckDbLimits.ForFunction(512)))
                {
                    var stalled = Task.Run(() => Compactor(harness, stalledDuckDb, clock, gate.Pause).CompactAsync(hours[hour], CancellationToken.None));
                    Assert.NotEqual(stalled, await Task.WhenAny(gate.Reached, stalled)); // it has a batch to compact: it reaches its gate
                    // Another writer goes on: a compaction of the same hour meanwhile, on a clock past the stalled one's lease
                    // or within it (then it finds the hour held and does nothing).
                    await ApplyAsync(harness, duckDb, hours, batches, during is Compact ? (expired ? new LateCompact(hour) : new Compact(hour)) : during);
                    if (expired)
                    {
                        clock.Now += HourLease.Duration + TimeSpan.FromMinutes(1);
                    }
                    gate.Release();
                    var result = await stalled;
                    Assert.True(expired || result is { LeaseLost: false }, $"a compaction within its lease lost it: {result}");
                }
                break;
            case LateCompact(var hour):
                var pastTheLease = new TestClock(DateTimeOffset.UtcNow + HourLease.Duration + TimeSpan.FromMinutes(1));
                await Compactor(harness, duckDb, pastTheLease).CompactAsync(hours[hour], CancellationToken.None);
                break;
        }
    }

    // A compaction by a run whose clock is past a stalled compaction's lease.
    private sealed record LateCompact(int Hour) : Op;

    private HourCompactor Compactor(AggregatorHarness harness, DuckDBConnection duckDb, TimeProvider clock, Func<CompactionStep, CancellationToken, Task>? pause = null) =>
        new(harness.Aws.S3, harness.Stack["ArchiveBucket"], duckDb, new HourLease(harness.Aws.DynamoDb, harness.Stack["SummariesTable"], clock),
            Path.Combine(_folder, Guid.NewGuid().ToString("N")), chunkRows: 3, clock: clock, pause: pause);

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
