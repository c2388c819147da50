using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;

namespace Pipeline.Bench;

/// <summary>Private emulators on free ports with the template provisioned: nothing shared with a running pipeline.</summary>
internal sealed class BenchStack : IAsyncDisposable
{
    private readonly LocalEmulators _emulators;

    private BenchStack(LocalEmulators emulators, LocalAws aws, ProvisionedResources stack)
    {
        _emulators = emulators;
        Aws = aws;
        Stack = stack;
    }

    public LocalAws Aws { get; }

    public ProvisionedResources Stack { get; }

    /// <summary>Starts the emulators and provisions serverless.template, with its defaults unless <paramref name="parameters"/> says otherwise.</summary>
    public static async Task<BenchStack> StartAsync(IReadOnlyDictionary<string, string>? parameters = null)
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        var emulators = await LocalEmulators.StartAsync(EmulatorOptions.Private, Console.WriteLine, CancellationToken.None);
        var aws = new LocalAws(emulators.Endpoints);
        var template = await File.ReadAllTextAsync(Pipeline.Local.RepositoryPaths.Discover().Template);
        var stack = await new TemplateProvisioner(aws).ProvisionAsync(template, $"bench-{Guid.NewGuid():N}"[..14], parameters, CancellationToken.None);
        return new BenchStack(emulators, aws, stack);
    }

    public async ValueTask DisposeAsync()
    {
        Aws.Dispose();
        await _emulators.DisposeAsync();
    }
}

/// <summary>A measured rate with latency percentiles.</summary>
internal sealed record Rate(string Name, double EventsPerSecond, double P50Ms, double P99Ms, long Errors)
{
    public static Rate FromLatencies(string name, long events, TimeSpan elapsed, List<double> latenciesMs, long errors)
    {
        latenciesMs.Sort();
        double Percentile(double p) => latenciesMs.Count == 0 ? double.NaN : latenciesMs[Math.Min(latenciesMs.Count - 1, (int)(p * latenciesMs.Count))];
        return new Rate(name, events / elapsed.TotalSeconds, Percentile(0.50), Percentile(0.99), errors);
    }
}
