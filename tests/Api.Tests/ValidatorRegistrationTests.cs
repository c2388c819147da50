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

        var validators = new[] { typeof(EventBatchValidator).Assembly, typeof(IncomingEventValidator).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && t.BaseType is { IsGenericType: true } b
                && b.GetGenericTypeDefinition() == typeof(AbstractValidator<>))
            .ToList();

        Assert.Equal(3, validators.Count);
        Assert.All(validators, v => Assert.Contains(typeof(IValidator<>).MakeGenericType(v.BaseType!.GetGenericArguments()), registered));
    }
}
