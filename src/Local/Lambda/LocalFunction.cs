using System.Collections.Concurrent;

namespace Pipeline.Local.Lambda;

/// <summary>
/// A function on the local Lambda: up to <c>concurrency</c> execution environments (processes), each serving one
/// invocation at a time. An environment is started when an invocation finds none idle, and replaced when its
/// process dies or times out, as Lambda does.
/// </summary>
public sealed class LocalFunction(FunctionDefinition definition, int concurrency, Action<string> output) : IAsyncDisposable
{
    private readonly SemaphoreSlim _slots = new(concurrency, concurrency);
    private readonly ConcurrentBag<ExecutionEnvironment> _idle = [];
    private readonly ConcurrentDictionary<ExecutionEnvironment, bool> _all = new();
    private readonly ConcurrentQueue<InvocationReport> _reports = new();

    /// <summary>What the function runs and with what.</summary>
    public FunctionDefinition Definition => definition;

    /// <summary>The reports of every invocation so far, oldest first.</summary>
    public IReadOnlyCollection<InvocationReport> Reports => _reports;

    /// <summary>The ids of the function's live processes.</summary>
    public IReadOnlyList<int> ProcessIds => [.. _all.Keys.Where(e => e.IsAlive).Select(e => e.ProcessId)];

    /// <summary>The ids of the processes serving an invocation right now.</summary>
    public IReadOnlyList<int> BusyProcessIds => [.. _all.Keys.Where(e => e.IsAlive && e.IsBusy).Select(e => e.ProcessId)];

    /// <summary>Invokes the function (waiting for a free environment if all are busy); returns the response payload.</summary>
    /// <exception cref="LambdaInvocationException">The function reported an error, timed out, died, or could not start.</exception>
    public async Task<byte[]> InvokeAsync(byte[] payload, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        ExecutionEnvironment? environment = null;
        try
        {
            environment = await IdleOrNewAsync(cancellationToken).ConfigureAwait(false);
            var (response, report) = await environment.InvokeAsync(payload, cancellationToken).ConfigureAwait(false);
            _reports.Enqueue(report);
            return response;
        }
        catch (LambdaInvocationException e)
        {
            _reports.Enqueue(e.Report ?? new InvocationReport("", TimeSpan.Zero, null, e.ErrorType));
            throw;
        }
        finally
        {
            if (environment is { IsAlive: true })
            {
                _idle.Add(environment);
            }
            else if (environment is not null)
            {
                _all.TryRemove(environment, out _);
                await environment.DisposeAsync().ConfigureAwait(false);
            }
            _slots.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var environment in _all.Keys)
        {
            await environment.DisposeAsync().ConfigureAwait(false);
        }
        _all.Clear();
        _slots.Dispose();
    }

    private async Task<ExecutionEnvironment> IdleOrNewAsync(CancellationToken cancellationToken)
    {
        while (_idle.TryTake(out var idle))
        {
            if (idle.IsAlive)
            {
                return idle;
            }
            _all.TryRemove(idle, out _);
            await idle.DisposeAsync().ConfigureAwait(false);
        }
        var environment = await ExecutionEnvironment.StartAsync(definition, output, cancellationToken).ConfigureAwait(false);
        _all[environment] = true;
        return environment;
    }
}
