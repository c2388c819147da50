using FluentValidation;
using Microsoft.AspNetCore.Builder;
using Pipeline.Api.Events;
using Pipeline.Api.Hosting;
using Pipeline.Intake;

namespace Pipeline.Api.Tests;

public sealed class ValidatorRegistrationTests
{
    // The Api names its validators instead of scanning assemblies at start (a shorter cold start, D22): a validator added to
    // either assembly and not registered would leave its endpoints unable to resolve it.
    [Fact]
    public void Every_validator_of_the_api_and_the_intake_rules_is_registered_as_the_api_builds_its_services()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddPipelineApi();
        var registered = builder.Services.Select(d => d.ServiceType).ToHashSet();

        // What AddValidatorsFromAssemblyContaining would have registered: FluentValidation's own scan of both assemblies.
        var validators = AssemblyScanner.FindValidatorsInAssemblies([typeof(EventBatchValidator).Assembly, typeof(IncomingEventValidator).Assembly]).ToList();

        Assert.NotEmpty(validators);
        Assert.All(validators, v => Assert.Contains(v.InterfaceType, registered));
    }
}
