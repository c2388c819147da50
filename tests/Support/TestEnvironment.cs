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

    /// <summary>Provisions serverless.template under a unique stack name.</summary>
    public static async Task<ProvisionedResources> ProvisionAsync(LocalAws aws, string? stackName = null) =>
        await new TemplateProvisioner(aws).ProvisionAsync(stackName ?? UniqueStackName(), CancellationToken.None);

    private static async Task<LocalEmulators> StartAsync()
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        var emulators = await LocalEmulators.StartAsync(EmulatorOptions.Private, _ => { }, CancellationToken.None);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => emulators.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return emulators;
    }
}
