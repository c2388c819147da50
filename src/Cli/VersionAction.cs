using System.CommandLine;
using System.CommandLine.Invocation;
using Amazon.SimpleSystemsManagement;
using Pipeline.Local;

namespace Pipeline.Cli;

/// <summary>
/// <c>pipeline --version</c>: this tool's version on stdout and, when the environment names a deployed stack, a warning on
/// stderr if that stack runs another release (or cannot be asked). System.CommandLine's <c>--version</c> takes no other
/// option, so the stack comes from the environment: <c>PIPELINE_STACK</c> with <c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>
/// or <c>AWS_PROFILE</c>, as <c>--stack</c> with <c>--region</c>/<c>--profile</c> would name it. <c>pipeline status</c>
/// warns the same way for the stack it is given.
/// </summary>
public sealed class VersionAction(Func<string, string?> environment, Func<string, CancellationToken, Task<string?>> deployedVersion)
    : AsynchronousCommandLineAction
{
    /// <summary>The longest the stack is asked for its version; the tool's own version is printed first, whatever happens.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    // Any of these says the AWS default chain points at an account, not at the local environment.
    private static readonly string[] DeployedMarkers = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"];

    /// <summary>The action as shipped: the environment of this process, and the stack's parameter read with the AWS default chain.</summary>
    public static VersionAction ForThisProcess() => new(System.Environment.GetEnvironmentVariable, async (stack, cancellationToken) =>
    {
        using var ssm = new AmazonSimpleSystemsManagementClient();
        return (await StackResources.ReadAsync(ssm, stack, cancellationToken)).Version;
    });

    /// <inheritdoc />
    public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        await parseResult.InvocationConfiguration.Output.WriteLineAsync(ProductVersion.Current);
        if (await WarningAsync(cancellationToken) is { } warning)
        {
            await parseResult.InvocationConfiguration.Error.WriteLineAsync(warning);
        }
        return 0;
    }

    /// <summary>The warning for the stack the environment names, or null (none named, or it runs this release).</summary>
    public async Task<string?> WarningAsync(CancellationToken cancellationToken)
    {
        if (environment("PIPELINE_STACK") is not { Length: > 0 } stack || stack == LocalEndpoints.DefaultStack
            || !DeployedMarkers.Any(name => environment(name) is { Length: > 0 }))
        {
            return null; // the local environment runs this build
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(Wait);
        string? deployed;
        try
        {
            deployed = await deployedVersion(stack, wait.Token);
        }
        catch (Exception e) when (e is Amazon.Runtime.AmazonClientException or HttpRequestException or OperationCanceledException
            or StackNotFoundException && !cancellationToken.IsCancellationRequested)
        {
            var reason = e is OperationCanceledException ? $"no answer in {Wait.TotalSeconds:0} s" : e.Message;
            return $"warning: could not read the release of stack {stack} (PIPELINE_STACK): {reason}";
        }
        return deployed == ProductVersion.Current ? null : $"warning: stack {stack} (PIPELINE_STACK) runs {deployed ?? "a release from before 0.1.0"}, "
            + $"this tool is {ProductVersion.Current}: upgrade one of them (docs/deploy.md).";
    }
}
