using System.ComponentModel.DataAnnotations;

namespace Pipeline.Api.Hosting;

/// <summary>The queue events go to. Environment: <c>Queue__Url</c>.</summary>
public sealed class QueueOptions
{
    /// <summary>The events queue's URL (the template's EventsQueue).</summary>
    [Required(ErrorMessage = "Queue:Url (environment Queue__Url) is required: the URL of the events queue.")]
    public string Url { get; set; } = "";
}
