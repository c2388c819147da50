using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// The events table's billing mode (issue #32): on-demand unless the EventsTableBillingMode parameter says PROVISIONED;
/// then its writes are scaled between a floor and a ceiling at a target utilisation, by Application Auto Scaling acting
/// with its service-linked role. The template is read as CloudFormation resolves it in each mode.
/// </summary>
public sealed class BillingModeTests
{
    private const string ScalableTarget = "EventsTableWriteScaling";
    private const string ScalingPolicy = "EventsTableWriteScalingPolicy";
    private static readonly string[] Capacities = ["EventsTableWriteCapacityMin", "EventsTableWriteCapacityMax"];

    [Fact]
    public void The_events_table_is_on_demand_unless_the_parameter_says_otherwise()
    {
        var parameter = Template.Root["Parameters"]!["EventsTableBillingMode"]!;

        Assert.Equal("PAY_PER_REQUEST", parameter["Default"]!.GetValue<string>());
        Assert.Equal(["PAY_PER_REQUEST", "PROVISIONED"], parameter["AllowedValues"]!.AsArray().Select(v => v!.GetValue<string>()));
        // Only the events table takes the parameter: the others see a few requests an event, or none (api keys, plans, summaries, imports).
        Assert.All(Template.OfType("AWS::DynamoDB::Table").Where(t => t != "EventsTable"),
            t => Assert.Equal("PAY_PER_REQUEST", Template.Properties(t)["BillingMode"]!.GetValue<string>()));
    }

    [Fact]
    public void On_demand_the_table_has_no_capacity_and_nothing_scales()
    {
        var (resources, table) = Resolved(new Dictionary<string, string>());

        Assert.Equal("PAY_PER_REQUEST", table["BillingMode"]!.GetValue<string>());
        Assert.Null(table["ProvisionedThroughput"]); // DynamoDB refuses a throughput on an on-demand table
        Assert.DoesNotContain(ScalableTarget, resources.Keys);
        Assert.DoesNotContain(ScalingPolicy, resources.Keys);
    }

    [Theory]
    [InlineData(5, 500, 70)]
    [InlineData(25, 1000, 50)]
    public void Provisioned_the_writes_scale_between_the_floor_and_the_ceiling_at_the_target_and_the_reads_stay_at_one(int floor, int ceiling, int target)
    {
        var (resources, table) = Resolved(new Dictionary<string, string>
        {
            ["EventsTableBillingMode"] = "PROVISIONED",
            ["EventsTableWriteCapacityMin"] = Text(floor),
            ["EventsTableWriteCapacityMax"] = Text(ceiling),
            ["EventsTableWriteTargetUtilization"] = Text(target),
        });

        Assert.Equal("PROVISIONED", table["BillingMode"]!.GetValue<string>());
        // The table starts at the floor; auto scaling moves it from there.
        Assert.Equal(Text(floor), table["ProvisionedThroughput"]!["WriteCapacityUnits"]!.ToString());
        // Nothing of the pipeline reads the table (the Processor's failed condition returns the stored item at no read cost;
        // TTL deletes, backups and exports use no capacity): one read a second serves an operator's lookups.
        Assert.Equal("1", table["ProvisionedThroughput"]!["ReadCapacityUnits"]!.ToString());
        var scaling = resources[ScalableTarget];
        Assert.Equal("dynamodb", scaling["ServiceNamespace"]!.GetValue<string>());
        Assert.Equal("dynamodb:table:WriteCapacityUnits", scaling["ScalableDimension"]!.GetValue<string>());
        Assert.Equal("table/EventsTable", scaling["ResourceId"]!.GetValue<string>());
        Assert.Equal(Text(floor), scaling["MinCapacity"]!.ToString());
        Assert.Equal(Text(ceiling), scaling["MaxCapacity"]!.ToString());
        var policy = resources[ScalingPolicy];
        Assert.Equal("TargetTrackingScaling", policy["PolicyType"]!.GetValue<string>());
        Assert.Equal("EventsTableWriteScaling", policy["ScalingTargetId"]!.GetValue<string>());
        var tracking = policy["TargetTrackingScalingPolicyConfiguration"]!;
        Assert.Equal("DynamoDBWriteCapacityUtilization", tracking["PredefinedMetricSpecification"]!["PredefinedMetricType"]!.GetValue<string>());
        Assert.Equal(Text(target), tracking["TargetValue"]!.ToString());
    }

    [Fact]
    public void The_target_utilisation_stays_within_what_dynamodb_auto_scaling_accepts_and_the_capacities_within_a_tables_quota()
    {
        var parameters = Template.Root["Parameters"]!;

        Assert.Equal(20, parameters["EventsTableWriteTargetUtilization"]!["MinValue"]!.GetValue<int>());
        Assert.Equal(90, parameters["EventsTableWriteTargetUtilization"]!["MaxValue"]!.GetValue<int>());
        Assert.All(Capacities, p =>
        {
            Assert.Equal(1, parameters[p]!["MinValue"]!.GetValue<int>());
            Assert.Equal(40_000, parameters[p]!["MaxValue"]!.GetValue<int>()); // a table's default write quota
        });
        Assert.True(parameters["EventsTableWriteCapacityMin"]!["Default"]!.GetValue<int>() <= parameters["EventsTableWriteCapacityMax"]!["Default"]!.GetValue<int>());
    }

    [Fact]
    public void Auto_scaling_acts_with_its_service_linked_role_and_no_role_of_the_stack_may_change_capacity()
    {
        // No RoleARN: Application Auto Scaling uses AWSServiceRoleForApplicationAutoScaling_DynamoDBTable, which AWS
        // creates on first use and keeps to DynamoDB's capacity and its CloudWatch alarms. The stack's roles stay as they are.
        Assert.Null(Template.Properties(ScalableTarget)["RoleARN"]);
        var roles = Template.OfType("AWS::IAM::Role").Select(Template.Properties).ToList();
        Assert.NotEmpty(roles);
        Assert.All(roles, role => Assert.DoesNotContain("application-autoscaling", role["AssumeRolePolicyDocument"]!.ToJsonString(), StringComparison.Ordinal));
        var actions = Template.Functions.SelectMany(Template.AllowStatements).SelectMany(s => Template.Strings(s["Action"])).ToList();
        Assert.Contains("dynamodb:PutItem", actions);
        Assert.DoesNotContain(actions, a => a is "dynamodb:UpdateTable" || a.StartsWith("application-autoscaling:", StringComparison.Ordinal)
            || a.StartsWith("cloudwatch:", StringComparison.Ordinal) || a.StartsWith("iam:", StringComparison.Ordinal));
    }

    // The events table and its scaling as CloudFormation resolves them with these parameters: those whose condition holds,
    // each Ref to a resource as its logical id.
    private static (Dictionary<string, JsonObject> Resources, JsonObject EventsTable) Resolved(IReadOnlyDictionary<string, string> parameters)
    {
        var template = StackTemplate.Parse(Template.Root.ToJsonString(), "stack", parameters: parameters);
        var resources = template.ResourcesInDependencyOrder().Where(r => r.LogicalId.StartsWith("EventsTable", StringComparison.Ordinal) && template.IsIncluded(r))
            .ToDictionary(r => r.LogicalId, r => (JsonObject)template.Resolve(r.Properties, (id, attribute) => attribute is null ? id : $"{id}.{attribute}")!);
        return (resources, resources["EventsTable"]);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
