using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;

namespace Pipeline.Tests;

/// <summary>
/// The emulators of this test process: a private fauxqs and DynamoDB Local on free ports,
/// started on first use and stopped when the process exits. Private instances mean test
/// projects, which dotnet test runs in parallel processes, never share ports or state, and
/// never touch a local pipeline running on the default ports. Each test provisions its own
/// stack under a unique name, so tests never depend on each other.
/// </summary>
public static class TestEnvironment
{
    private static readonly Lazy<Task<LocalEmulators>> Emulators = new(StartAsync);

    /// <summary>The running emulators of this process.</summary>
    public static Task<LocalEmulators> GetEmulatorsAsync() => Emulators.Value;

    /// <summary>Clients for this process's emulators.</summary>
    public static async Task<LocalAws> CreateClientsAsync() => new((await GetEmulatorsAsync()).Endpoints);

    /// <summary>A unique stack name for one test.</summary>
    public static string UniqueStackName(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..16];

    /// <summary>Provisions serverless.template under a unique stack name, with the template's parameters or <paramref name="parameters"/>.</summary>
    public static async Task<ProvisionedResources> ProvisionAsync(LocalAws aws, string? stackName = null, IReadOnlyDictionary<string, string>? parameters = null) =>
        await new TemplateProvisioner(aws).ProvisionAsync(
            File.ReadAllText(Pipeline.Local.RepositoryPaths.Discover().Template), stackName ?? UniqueStackName(), parameters, CancellationToken.None);

    /// <summary>The parameters that make the events table provisioned, at a write capacity floor of <paramref name="floor"/>.</summary>
    public static IReadOnlyDictionary<string, string> ProvisionedEventsTable(int floor = 25) => new Dictionary<string, string>
    {
        ["EventsTableBillingMode"] = "PROVISIONED",
        ["EventsTableWriteCapacityMin"] = floor.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static async Task<LocalEmulators> StartAsync()
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        var emulators = await LocalEmulators.StartAsync(EmulatorOptions.Private, _ => { }, CancellationToken.None);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => emulators.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return emulators;
    }
}
