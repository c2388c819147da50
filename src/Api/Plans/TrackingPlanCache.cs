using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;

namespace Pipeline.Api.Plans;

/// <summary>The plan the Api applies: none set, a plan and its version, or unknown (never read: events are accepted, marked unchecked).</summary>
/// <param name="Plan">The plan, or null.</param>
/// <param name="Version">Its version, or null.</param>
/// <param name="Unreadable">True if no plan could ever be read (the store failed, or held a plan this Api cannot use).</param>
public sealed record PlanState(TrackingPlan? Plan, int? Version, bool Unreadable)
{
    /// <summary>No plan is set: events are accepted as they are.</summary>
    public static PlanState None { get; } = new(null, null, false);

    /// <summary>No plan could be read yet.</summary>
    public static PlanState Unknown { get; } = new(null, null, true);
}

/// <summary>
/// Reads the tracking plan at most every <see cref="PlanOptions.RefreshSeconds"/> (so a new plan applies within that
/// time, as a revoked key does) and keeps the last good one when a read fails: a plan it cannot read never makes the
/// Api refuse or lose events. One request reads while the others go on with the plan they have.
/// </summary>
public sealed class TrackingPlanCache(TrackingPlanStore store, IOptions<PlanOptions> options, TimeProvider clock, ILogger<TrackingPlanCache> logger) : IDisposable
{
    private readonly SemaphoreSlim _reading = new(1, 1);
    private PlanState _state = PlanState.Unknown;
    private long _nextTicks; // when to read again, in UTC ticks

    /// <summary>The plan to apply now.</summary>
    public async ValueTask<PlanState> CurrentAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (now.UtcTicks < Volatile.Read(ref _nextTicks))
        {
            return _state;
        }
        // Before the first read has ended every request waits for it (none is marked unchecked while the plan is being
        // read); after it, one request reads and the others go on with the plan they have.
        if (Volatile.Read(ref _nextTicks) == 0)
        {
            await _reading.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (!await _reading.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return _state;
        }
        try
        {
            if (now.UtcTicks >= _nextTicks)
            {
                _state = await ReadAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _nextTicks, now.AddSeconds(options.Value.RefreshSeconds).UtcTicks);
            }
            return _state;
        }
        finally
        {
            _reading.Release();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _reading.Dispose();

    private async Task<PlanState> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stored = await store.GetAsync(cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                return PlanState.None;
            }
            return stored.Version == _state.Version ? _state : new PlanState(TrackingPlan.Parse(stored.Document), stored.Version, false);
        }
        catch (Exception e) when (e is PlanException or InvalidDataException || Faults.AwsFaults.IsServiceFailure(e, cancellationToken))
        {
            logger.LogWarning("Cannot read the tracking plan ({Error}); {Applied}.", e.Message,
                _state.Unreadable ? "events are accepted unchecked" : $"version {_state.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} stays in force");
            return _state;
        }
    }
}
