using Amazon.SimpleSystemsManagement;
using Pipeline.Cli;

namespace Pipeline.Local.Tests;

/// <summary><c>pipeline --version</c>'s comparison with the deployed stack the environment names.</summary>
public sealed class VersionActionTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public async Task Without_a_deployed_stack_in_the_environment_nothing_is_asked_and_nothing_is_said()
    {
        var asked = 0;
        Task<string?> Read(string stack, CancellationToken cancellationToken)
        {
            asked++;
            return Task.FromResult<string?>("0.0.1");
        }

        Assert.Null(await new VersionAction(Environment(), Read).WarningAsync(CancellationToken.None));
        Assert.Null(await new VersionAction(Environment(("PIPELINE_STACK", "shop")), Read).WarningAsync(CancellationToken.None)); // no account named
        Assert.Null(await new VersionAction(Environment(("PIPELINE_STACK", "pipeline-local"), ("AWS_REGION", "eu-west-1")), Read)
            .WarningAsync(CancellationToken.None));
        Assert.Equal(0, asked);
    }

    [Theory]
    [InlineData("AWS_REGION")]
    [InlineData("AWS_DEFAULT_REGION")]
    [InlineData("AWS_PROFILE")]
    public async Task A_stack_running_another_release_is_warned_of_with_both_versions_and_one_running_this_release_is_not(string account)
    {
        var other = new VersionAction(Environment(("PIPELINE_STACK", "shop"), (account, "x")), (_, _) => Task.FromResult<string?>("0.0.1"));
        var same = new VersionAction(Environment(("PIPELINE_STACK", "shop"), (account, "x")), (_, _) => Task.FromResult<string?>(ProductVersion.Current));

        var warning = await other.WarningAsync(CancellationToken.None);

        Assert.Equal($"warning: stack shop (PIPELINE_STACK) runs 0.0.1, this tool is {ProductVersion.Current}: upgrade one of them (docs/deploy.md).", warning);
        Assert.Null(await same.WarningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_stack_that_cannot_be_asked_is_said_so_and_the_version_is_still_printed()
    {
        // The SDK's own client, at a port nothing listens on.
        using var ssm = new AmazonSimpleSystemsManagementClient(LocalEndpoints.Credentials,
            new AmazonSimpleSystemsManagementConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "eu-west-1", MaxErrorRetry = 0 });
        var action = new VersionAction(Environment(("PIPELINE_STACK", "shop"), ("AWS_REGION", "eu-west-1")),
            async (stack, cancellationToken) => (await StackResources.ReadAsync(ssm, stack, cancellationToken)).Version);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var parsed = new System.CommandLine.RootCommand { Action = action }.Parse([]);
        var code = await parsed.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });

        Assert.Equal(0, code);
        Assert.Equal(ProductVersion.Current, output.ToString().Trim());
        Assert.StartsWith("warning: could not read the release of stack shop (PIPELINE_STACK): ", error.ToString(), StringComparison.Ordinal);
    }
}
