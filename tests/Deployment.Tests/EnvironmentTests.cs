using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Pipeline.Aggregator;
using Pipeline.Api.Hosting;
using Pipeline.Processor;
using Pipeline.Summaries;

namespace Pipeline.Deployment.Tests;

public sealed class EnvironmentTests
{
    // Variables read by the platform, not by our code, each with its reader.
    private static readonly Dictionary<string, string> PlatformVariables = new()
    {
        ["AWS_LAMBDA_EXEC_WRAPPER"] = "Lambda: runs the Web Adapter's /opt/bootstrap",
        ["AWS_LWA_PORT"] = "the Web Adapter: where the app listens",
        ["AWS_LWA_READINESS_CHECK_PATH"] = "the Web Adapter: the readiness check",
        ["AWS_LWA_READINESS_CHECK_PROTOCOL"] = "the Web Adapter: the readiness check",
        ["ASPNETCORE_URLS"] = "ASP.NET Core: where Kestrel listens",
    };

    /// <summary>The names a FromEnvironment method asks for, recorded by calling it.</summary>
    private static HashSet<string> Requested(Action<Func<string, string?>> fromEnvironment, string value = "1")
    {
        var names = new HashSet<string>();
        fromEnvironment(name =>
        {
            names.Add(name);
            return value;
        });
        return names;
    }

    [Fact]
    public void The_processor_gets_exactly_the_variables_it_reads()
    {
        var read = Requested(r => ProcessorOptions.FromEnvironment(r), value: "100"); // a valid import write rate too

        Assert.Equal(read.Order(), Template.Environment("ProcessorFunction").Keys.Order());
    }

    [Fact]
    public void The_import_function_gets_exactly_the_variables_it_reads()
    {
        var read = Requested(r => Pipeline.Importer.ImporterOptions.FromEnvironment(r), value: "365"); // a valid number of days too

        Assert.Equal(read.Order(), Template.Environment("ImportFunction").Keys.Order());
    }

    [Fact]
    public void The_aggregator_gets_exactly_the_variables_it_reads()
    {
        var read = Requested(r => AggregatorOptions.FromEnvironment(r));

        Assert.Equal(read.Order(), Template.Environment("AggregatorFunction").Keys.Order());
    }

    [Fact]
    public void The_api_gets_every_required_setting_and_nothing_it_does_not_read()
    {
        var readable = ApiHosting.OptionSections.SelectMany(s => s.Key.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Name: $"{s.Value}__{p.Name}", Required: p.GetCustomAttribute<RequiredAttribute>() is not null))).ToList();
        var set = Template.Environment("ApiFunction").Keys.ToList();

        Assert.All(readable.Where(r => r.Required), r => Assert.Contains(r.Name, set));
        Assert.All(set, name => Assert.True(
            PlatformVariables.ContainsKey(name) || readable.Any(r => name == r.Name || name.StartsWith(r.Name + "__", StringComparison.Ordinal)),
            $"{name} is set on ApiFunction but nothing reads it"));
    }

    // Settings with a default; every other variable the template sets is required.
    private static readonly HashSet<string> Optional =
    [
        "Events__RetentionDays", "Summaries__WindowMinutes", "Summaries__SettleSeconds", "Summaries__LookbackMinutes", "Summaries__TopEventTypes",
        "Imports__WriteRate",
    ];

    [Theory]
    [InlineData("ProcessorFunction")]
    [InlineData("AggregatorFunction")]
    public void A_missing_required_variable_fails_at_start_naming_it_and_a_missing_optional_one_takes_its_default(string function)
    {
        Action<Func<string, string?>> fromEnvironment = function == "ProcessorFunction"
            ? read => ProcessorOptions.FromEnvironment(read)
            : read => AggregatorOptions.FromEnvironment(read);
        foreach (var missing in Template.Environment(function).Keys)
        {
            var error = Record.Exception(() => fromEnvironment(name => name == missing ? null : "100")); // valid for every variable

            if (Optional.Contains(missing))
            {
                Assert.Null(error);
            }
            else
            {
                Assert.IsType<InvalidOperationException>(error);
                Assert.Contains(missing, error.Message, StringComparison.Ordinal);
            }
        }
    }
}
