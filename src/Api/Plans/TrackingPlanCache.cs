using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.Events;
using Pipeline.Metrics;
using Pipeline.Plans;

namespace Pipeline.Api.Plans;

/// <summary>
/// Reads the tracking plan at most every <see cref="PlanOptions.RefreshSeconds"/> (so a new plan applies within that
/// time, as a revoked key does) and keeps the last good one when a read fails in any way: a plan it cannot read never
/// makes the Api refuse, hold or lose events (docs/tracking-plan.md). One read runs at a time; a request waits for it
/// at most <see cref="PlanOptions.ReadWaitMilliseconds"/>, then goes on with the plan in force while the read goes on.
/// </summary>
public sealed class TrackingPlanCache(TrackingPlanStore store, IOptions<PlanOptions> options, TimeProvider clock, ILogger<TrackingPlanCache> logger)
{
    /// <summary>The metric counting reads that failed and evaluations that could not run (an alarm watches it).</summary>
    public const string FailureMetric = "PlanFailures";

    private readonly Lock _gate = new();
    private PlanState _state = PlanState.Unknown;
    private long _nextTicks; // when to read again, in UTC ticks
    private Task? _reading; // the read in progress
    private long _readingSince; // its start, as a Stopwatch timestamp
    private bool _read; // a read has ended, well or not

    /// <summary>The plan to apply now.</summary>
    public async ValueTask<PlanState> CurrentAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (now.UtcTicks < Volatile.Read(ref _nextTicks))
        {
            return _state;
        }
        Task reading;
        bool waits;
        lock (_gate)
        {
            if (now.UtcTicks < _nextTicks)
            {
                return _state;
            }
            // The request that starts a read waits for it (so a new plan applies at once), as does every request
            // before any read has ended (so none is marked unchecked needlessly); the others go on with the plan in force.
            waits = _reading is null || !_read;
            if (_reading is null)
            {
                _readingSince = Stopwatch.GetTimestamp();
                _reading = ReadAsync();
            }
            reading = _reading;
        }
        var left = TimeSpan.FromMilliseconds(options.Value.ReadWaitMilliseconds) - Stopwatch.GetElapsedTime(Volatile.Read(ref _readingSince));
        if (waits && left > TimeSpan.Zero)
        {
            try
            {
                await reading.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The read goes on in the background; this request goes on with the plan in force.
            }
        }
        return _state;
    }

    /// <summary>
    /// What the plan in <paramref name="state"/> says of an event (<see cref="PlanChecks.Of"/>), within the request's
    /// <paramref name="budget"/>; a plan that cannot be evaluated is logged and counted, and the event goes on unchecked.
    /// </summary>
    public (PlanCheck? Check, bool Blocked) Check(
        PlanState state, PlanBudget budget, string eventType, System.Text.Json.JsonElement? properties, System.Text.Json.JsonElement? traits)
    {
        var (check, blocked, failure) = PlanChecks.Of(state, budget, eventType, properties, traits);
        if (failure is not null)
        {
            Report("evaluate", $"Cannot evaluate the tracking plan (version {Version(state)}) on an event of '{eventType}' ({failure}); it is accepted unchecked.");
        }
        return (check, blocked);
    }

    private async Task ReadAsync()
    {
        var state = _state;
        try
        {
            await Task.Yield(); // off the request's stack, out of the lock
            var stored = await store.GetAsync(CancellationToken.None).ConfigureAwait(false); // the SDK's timeouts bound it
            state = stored is null ? PlanState.None
                : stored.Version == _state.Version && _state.Plan is not null ? _state
                : new PlanState(TrackingPlan.Parse(stored.Document), stored.Version, false);
        }
        catch (Exception e)
        {
            // Every kind of damage (a fault, a malformed item, a plan this Api cannot use) keeps the plan in force.
            Report("read", $"Cannot read the tracking plan ({e.GetType().Name}: {e.Message}); "
                + (state.Unreadable ? "events are accepted unchecked." : $"version {Version(state)} stays in force."));
        }
        finally
        {
            // Whatever happened, the next read is due after the refresh time and may start then.
            lock (_gate)
            {
                _state = state;
                Volatile.Write(ref _nextTicks, clock.GetUtcNow().AddSeconds(options.Value.RefreshSeconds).UtcTicks);
                _read = true;
                _reading = null;
            }
        }
    }

    private void Report(string stage, string message)
    {
        try
        {
            logger.LogWarning("{Message}", message);
            EmbeddedMetrics.Write(
                Console.Out, clock, "Api", new Dictionary<string, double> { [FailureMetric] = 1 }, properties: new Dictionary<string, string> { ["stage"] = stage });
        }
        catch (IOException)
        {
            // Reporting never stops ingestion.
        }
    }

    private static string Version(PlanState state) => state.Version?.ToString(CultureInfo.InvariantCulture) ?? "none";
}
