using System.Text.Json.Nodes;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local.Tests;

public sealed class StackTemplateTests
{
    private const string Template = """
        {
          "Parameters": { "Stage": { "Type": "String", "Default": "dev" }, "Email": { "Type": "String", "Default": "" } },
          "Conditions": {
            "HasEmail": { "Fn::Not": [ { "Fn::Equals": [ { "Ref": "Email" }, "" ] } ] },
            "IsProd": { "Fn::Equals": [ { "Ref": "Stage" }, "prod" ] }
          },
          "Resources": {
            "B": { "Type": "AWS::SQS::Queue", "Properties": { "RedrivePolicy": { "deadLetterTargetArn": { "Fn::GetAtt": "A.Arn" } } } },
            "A": { "Type": "AWS::SQS::Queue" },
            "Alarm": { "Type": "AWS::CloudWatch::Alarm", "Condition": "HasEmail" }
          }
        }
        """;

    private static string Resources(string id, string? attribute) => attribute is null ? $"ref:{id}" : $"{id}.{attribute}";

    [Fact]
    public void Resources_come_after_the_ones_they_refer_to()
    {
        var template = StackTemplate.Parse(Template, "s");

        var order = template.ResourcesInDependencyOrder().Select(r => r.LogicalId).ToList();

        Assert.True(order.IndexOf("A") < order.IndexOf("B"));
    }

    [Fact]
    public void Sub_resolves_pseudo_parameters_parameters_attributes_and_local_variables()
    {
        var template = StackTemplate.Parse(Template, "stack", parameters: new Dictionary<string, string> { ["Stage"] = "prod" });
        var node = JsonNode.Parse("""{ "Fn::Sub": [ "${AWS::StackName}-${Stage}-${A.Arn}-${AWS::Region}-${AWS::AccountId}-${X}-${!Literal}", { "X": { "Ref": "A" } } ] }""");

        var value = template.Resolve(node, Resources)!.GetValue<string>();

        Assert.Equal("stack-prod-A.Arn-us-east-1-000000000000-ref:A-${!Literal}", value);
    }

    [Fact]
    public void Join_Select_and_If_resolve_and_NoValue_removes_the_property()
    {
        var template = StackTemplate.Parse(Template, "s", parameters: new Dictionary<string, string> { ["Stage"] = "prod" });
        var node = JsonNode.Parse("""
            {
              "J": { "Fn::Join": [ "/", [ "a", { "Ref": "Stage" }, { "Fn::Select": [ 1, [ "x", "y" ] ] } ] ] },
              "I": { "Fn::If": [ "IsProd", "yes", "no" ] },
              "N": { "Fn::If": [ "HasEmail", "mail", { "Ref": "AWS::NoValue" } ] }
            }
            """);

        var value = (JsonObject)template.Resolve(node, Resources)!;

        Assert.Equal("a/prod/y", value["J"]!.GetValue<string>());
        Assert.Equal("yes", value["I"]!.GetValue<string>());
        Assert.False(value.ContainsKey("N"));
    }

    [Fact]
    public void A_resource_whose_condition_is_false_is_not_included()
    {
        var without = StackTemplate.Parse(Template, "s");
        var with = StackTemplate.Parse(Template, "s", parameters: new Dictionary<string, string> { ["Email"] = "ops@example.com" });

        Assert.False(without.IsIncluded(without.ResourcesInDependencyOrder().Single(r => r.LogicalId == "Alarm")));
        Assert.True(with.IsIncluded(with.ResourcesInDependencyOrder().Single(r => r.LogicalId == "Alarm")));
    }

    [Theory]
    [InlineData("""{ "Resources": { "A": { "Type": "AWS::SQS::Queue", "DependsOn": "B" }, "B": { "Type": "AWS::SQS::Queue", "DependsOn": "A" } } }""", "Circular reference")]
    [InlineData("""{ "Resources": { "A": { "Type": "AWS::SQS::Queue" } } }""", "Parameter 'Nope' is not declared")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{}", "no Resources")]
    [InlineData("""{ "Resources": { "A": { "Properties": {} } } }""", "'A' has no Type")]
    public void Malformed_templates_are_refused_with_their_reason(string json, string expected)
    {
        var error = Assert.Throws<TemplateException>(() =>
        {
            var template = StackTemplate.Parse(json, "s", parameters: json.Contains("\"A\": { \"Type\": \"AWS::SQS::Queue\" } }", StringComparison.Ordinal)
                ? new Dictionary<string, string> { ["Nope"] = "1" } : null);
            template.ResourcesInDependencyOrder();
        });

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Rate", "99", "'Rate' must be from 100 to 40000, not 99")]
    [InlineData("Rate", "40001", "'Rate' must be from 100 to 40000, not 40001")]
    [InlineData("Rate", "fast", "'Rate' must be a number, not 'fast'")]
    [InlineData("Rate", "NaN", "'Rate' must be a number, not 'NaN'")]
    [InlineData("Mode", "SOMETIMES", "'Mode' must be one of A, B, not 'SOMETIMES'")]
    public void A_given_parameter_value_cloudformation_would_refuse_is_refused_naming_it(string name, string value, string expected)
    {
        const string template = """
            {
              "Parameters": {
                "Rate": { "Type": "Number", "Default": 500, "MinValue": 100, "MaxValue": 40000 },
                "Mode": { "Type": "String", "Default": "A", "AllowedValues": [ "A", "B" ] }
              },
              "Resources": { "A": { "Type": "AWS::SQS::Queue" } }
            }
            """;

        var error = Assert.Throws<TemplateException>(() => StackTemplate.Parse(template, "s", parameters: new Dictionary<string, string> { [name] = value }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.NotNull(StackTemplate.Parse(template, "s", parameters: new Dictionary<string, string> { ["Rate"] = "100", ["Mode"] = "B" }));
    }
}
