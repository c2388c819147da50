using System.Globalization;
using Pipeline.Local;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;

namespace Pipeline.Bench.Cost;

/// <summary>
/// A stack of its own on the emulators, whose every AWS request can be metered: <see cref="Metered"/> endpoints (and
/// <see cref="MeteredAws"/> clients) reach the emulators through a <see cref="MeteringProxy"/> each, counting DynamoDB's
/// writes to the stack's indexes as AWS bills them.
/// </summary>
internal sealed class MeteredStack : IAsyncDisposable
{
    private readonly MeteringProxy _fauxqs;
    private readonly MeteringProxy _dynamoDb;

    private MeteredStack(LocalAws aws, ProvisionedResources stack, MeteringProxy fauxqs, MeteringProxy dynamoDb)
    {
        (Aws, Stack, _fauxqs, _dynamoDb) = (aws, stack, fauxqs, dynamoDb);
        Metered = new LocalEndpoints(fauxqs.Address, dynamoDb.Address);
        MeteredAws = new LocalAws(Metered);
    }

    /// <summary>Clients that go around the meter (the benchmark's own reads).</summary>
    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    public LocalEndpoints Metered { get; }

    public LocalAws MeteredAws { get; }

    /// <summary>Whether the proxies record what passes.</summary>
    public bool Recording
    {
        set => _fauxqs.Recording = _dynamoDb.Recording = value;
    }

    /// <summary>Provisions serverless.template with <paramref name="parameters"/> (its defaults if none) and starts the proxies.</summary>
    public static async Task<MeteredStack> StartAsync(LocalEndpoints direct, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var aws = new LocalAws(direct);
        var stack = await new TemplateProvisioner(aws).ProvisionAsync(
            await File.ReadAllTextAsync(RepositoryPaths.Discover().Template), $"cost-{Guid.NewGuid():N}"[..14], parameters, CancellationToken.None);
        var indexes = new Dictionary<string, int>();
        foreach (var table in stack.Resources.Values.Where(r => r.Type == "AWS::DynamoDB::Table").Select(r => r.Ref))
        {
            indexes[table] = (await aws.DynamoDb.DescribeTableAsync(table)).Table.GlobalSecondaryIndexes?.Count ?? 0;
        }
        var fauxqs = await MeteringProxy.StartAsync(direct.Fauxqs, _ => 0);
        var dynamoDb = await MeteringProxy.StartAsync(direct.DynamoDb, t => indexes.GetValueOrDefault(t));
        return new MeteredStack(aws, stack, fauxqs, dynamoDb);
    }

    /// <summary>The requests recorded since the last take, and none after.</summary>
    public List<MeteredCall> TakeCalls()
    {
        var calls = _fauxqs.Calls.Concat(_dynamoDb.Calls).ToList();
        _fauxqs.Calls.Clear();
        _dynamoDb.Calls.Clear();
        return calls;
    }

    /// <summary>Runs the Aggregator once the last one-minute window has settled (it summarizes every window of the run); returns its requests.</summary>
    public async Task<List<MeteredCall>> AggregateAsync(LocalFunction aggregator)
    {
        TakeCalls();
        await Task.Delay(TimeSpan.FromSeconds(60 - DateTimeOffset.UtcNow.Second + 6));
        await LocalAggregator.InvokeAsync(aggregator, CancellationToken.None);
        Recording = false;
        return TakeCalls();
    }

    /// <summary>A function's MemorySize in the template.</summary>
    public int MemorySize(string function) => int.Parse(Stack.FunctionSetting(function, "MemorySize") ?? "128", CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        MeteredAws.Dispose();
        await _fauxqs.DisposeAsync();
        await _dynamoDb.DisposeAsync();
        Aws.Dispose();
    }
}
