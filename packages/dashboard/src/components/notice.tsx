import type { ComponentChildren } from 'preact';
import { describeError } from '../api.js';

export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  return (
    <p class="notice error" role="alert">
      {describeError(props.error)}
    </p>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

export function Card(props: { title: string; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}
