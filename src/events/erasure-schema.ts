import { builder } from '../graphql/builder.js';
import { isId } from '../lib/ids.js';
import { lineOfText } from '../webhooks/rules.js';
import { eraseEvents } from './erasure.js';

type ErasedConversation = { conversationId: string; events: number; deliveries: number };

const ErasedConversationRef = builder.objectRef<ErasedConversation>('ErasedConversation');
ErasedConversationRef.implement({
  description: 'What eraseConversation deleted. A second call for the same conversation returns zeros.',
  fields: (t) => ({
    conversationId: t.exposeString('conversationId', { description: 'The conversation erased, as given.' }),
    events: t.exposeInt('events', { description: 'Events deleted.' }),
    deliveries: t.exposeInt('deliveries', { description: 'Deliveries deleted, with all their attempts.' }),
  }),
});

builder.mutationFields((t) => ({
  eraseConversation: t.field({
    type: ErasedConversationRef,
    description:
      'Deletes, in your workspace, every event published with this conversationId, their deliveries and attempts. Nothing of them is sent after it returns, except a request already under way, which may finish. Afterwards their ids answer as ids that never existed. Events published with the conversationId later are not affected.',
    args: {
      conversationId: t.arg.string({
        required: true,
        description: 'The conversation to erase, 1 to 128 characters.',
        validate: { schema: lineOfText(1, 128) },
      }),
    },
    resolve: async (_root, { conversationId }, ctx) => {
      const erased = await eraseEvents(ctx.sql, ctx.workspaceId, { conversationId });
      // The audit line: who erased what and how much, never any of the data.
      ctx.log.info(
        { audit: 'erasure', workspaceId: ctx.workspaceId, apiKeyId: ctx.apiKeyId, conversationId, ...erased },
        'erased a conversation',
      );
      return { conversationId, ...erased };
    },
  }),
  eraseEvent: t.boolean({
    description:
      "Deletes one event of your workspace, its deliveries and attempts, as eraseConversation does. True when it was erased; false when there is no such event (never was, another workspace's, or erased already).",
    args: { id: t.arg.id({ required: true, description: 'The event to erase ("evt_…").' }) },
    resolve: async (_root, { id }, ctx) => {
      if (!isId('event', id)) return false;
      const erased = await eraseEvents(ctx.sql, ctx.workspaceId, { eventId: id });
      ctx.log.info(
        { audit: 'erasure', workspaceId: ctx.workspaceId, apiKeyId: ctx.apiKeyId, eventId: id, ...erased },
        'erased an event',
      );
      return erased.events > 0;
    },
  }),
}));
