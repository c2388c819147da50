using System.Text.Json;
using Pipeline.Intake;

namespace Pipeline.Api.Tests;

/// <summary>The depth limit of a free-form object, as POST /events and every imported row apply it: every object and array is a level.</summary>
public sealed class EventRulesTests
{
    [Theory]
    [InlineData("""{"a":1}""", 1, true)]
    [InlineData("""{}""", 1, true)]
    [InlineData("""{"a":{}}""", 1, false)] // an empty object is a level
    [InlineData("""{"a":[]}""", 1, false)] // so is an empty array
    [InlineData("""{"a":{"b":[1,{"c":2}]}}""", 4, true)]
    [InlineData("""{"a":{"b":[1,{"c":2}]}}""", 3, false)]
    [InlineData("""{"x":1,"a":[[[]]],"y":{"z":2}}""", 4, true)] // the deepest member counts, wherever it is
    [InlineData("""{"x":1,"a":[[[]]],"y":{"z":2}}""", 3, false)]
    public void An_object_nested_deeper_than_the_limit_is_refused(string json, int maxDepth, bool accepted)
    {
        using var document = JsonDocument.Parse(json);

        var problem = EventRules.ObjectProblem(document.RootElement, "properties", maxDepth);

        Assert.Equal(accepted ? null : $"'properties' is nested deeper than {maxDepth} levels.", problem);
    }
}
