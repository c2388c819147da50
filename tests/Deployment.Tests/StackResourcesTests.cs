using System.Text.RegularExpressions;
using Pipeline.Cli;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// The parameter the template publishes (/pipeline/STACK) and what the pipeline tool reads from it. There is no SSM
/// emulator: the template's value is resolved here as CloudFormation would, from the names the template gives.
/// </summary>
public sealed partial class StackResourcesTests
{
    [Fact]
    public void The_templates_parameter_names_the_stacks_own_resources_and_its_release()
    {
        var properties = Template.Properties("StackResourcesParameter");
        const string stack = "shop-prod";
        const string bucket = "shop-prod-archivebucket-1x2y3z"; // CloudFormation's generated name

        // ${Logical.QueueName} and ${Logical} as CloudFormation resolves them: the names the template gives each resource.
        var value = Reference().Replace(properties["Value"]!["Fn::Sub"]!.GetValue<string>(), m =>
        {
            if (Template.Root["Parameters"]![m.Groups["id"].Value] is { } parameter)
            {
                return parameter["Default"]!.ToJsonString(); // a deploy that leaves the parameter at its default
            }
            var resource = Template.Properties(m.Groups["id"].Value);
            var name = resource["QueueName"] ?? resource["TableName"] ?? resource["BucketName"];
            return name is null ? bucket : name["Fn::Sub"]!.GetValue<string>().Replace("${AWS::StackName}", stack, StringComparison.Ordinal)
                .Replace("${AWS::AccountId}", "000000000000", StringComparison.Ordinal);
        });
        var read = StackResources.Parse(value, stack);

        Assert.Equal("/pipeline/${AWS::StackName}", properties["Name"]!["Fn::Sub"]!.GetValue<string>());
        Assert.Equal(StackResources.ParameterName(stack), properties["Name"]!["Fn::Sub"]!.GetValue<string>().Replace("${AWS::StackName}", stack, StringComparison.Ordinal));
        Assert.Equal(StackResources.Local(stack) with { ArchiveBucket = bucket, Version = ProductVersion.Current }, read);
    }

    [Fact]
    public void The_import_time_window_a_dry_run_checks_is_the_stacks_own_and_the_templates_default_without_one()
    {
        const string names = """
            "eventsQueue":"q","deadLetterQueue":"d","eventsTable":"e","apiKeysTable":"k","trackingPlansTable":"p","summariesTable":"s","archiveBucket":"b"
            """;

        Assert.Equal(90, StackResources.Parse($$"""{{{names}},"importMaxAgeDays":90}""", "shop").ImportMaxAgeDays);
        Assert.Equal(StackResources.DefaultImportMaxAgeDays, StackResources.Parse($$"""{{{names}}}""", "shop").ImportMaxAgeDays);
        Assert.Equal(StackResources.DefaultImportMaxAgeDays, Template.Root["Parameters"]!["ImportMaxAgeDays"]!["Default"]!.GetValue<int>());
        Assert.Equal(StackResources.DefaultImportMaxAgeDays, StackResources.Local("shop").ImportMaxAgeDays);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"version":"0.1.0"}""")]
    [InlineData("""{"eventsQueue":"q","deadLetterQueue":"d","eventsTable":"e","apiKeysTable":"k","trackingPlansTable":"p","summariesTable":"s","archiveBucket":" "}""")]
    public void A_damaged_parameter_is_refused_with_its_name_never_guessed(string value)
    {
        var error = Assert.Throws<StackNotFoundException>(() => StackResources.Parse(value, "shop"));

        Assert.Contains("/pipeline/shop", error.Message, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\$\{(?<id>[A-Za-z]+)(\.QueueName)?\}")]
    private static partial Regex Reference();
}
